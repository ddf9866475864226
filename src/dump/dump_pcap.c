/* dump_pcap: `vuproxy dump --ethernet-out FILE`, the Ethernet frames of a
 * trace as a classic libpcap file, which tcpdump reads (libpcap cannot
 * read a pcapng file whose interfaces have different link types).
 *
 * Nanosecond timestamps (magic 0xa1b23c4d): the trace has them, nothing
 * is rounded away, and libpcap (since 1.5), tcpdump and Wireshark read
 * them.  Host byte order, as libpcap writes.  The header's snap length is
 * the largest of the interfaces whose frames are in the file (262144,
 * tcpdump's default, for an interface without a limit); written when the
 * first frame comes and raised at the end if a later interface has a
 * larger one (a regular file can be rewritten; a pipe keeps the first). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump_tap.h"
#include "vuproxy/pcapng.h"

#define PCAP_MAGIC_NS    0xa1b23c4du
#define PCAP_MAX_SNAPLEN 262144u

struct vup_pcap_out {
	FILE *f;
	char *path;
	bool is_stdout;
	bool header_written;
	uint32_t header_snaplen, max_snaplen;
	uint64_t frames;
	int error; /* first write error, -errno */
};

static uint32_t snaplen_of(uint32_t s)
{
	return s == 0 || s > PCAP_MAX_SNAPLEN ? PCAP_MAX_SNAPLEN : s;
}

int vup_pcap_out_open(const char *path, const char *input,
                      struct vup_pcap_out **out, char *err, size_t errlen)
{
	struct vup_pcap_out *o = calloc(1, sizeof(*o));
	int fd = -1, rc = -ENOMEM;
	if (!o || !(o->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		o->is_stdout = true;
		*out = o;
		return 0;
	}
	struct stat in, st;
	if (stat(input, &in) == 0 && stat(path, &st) == 0 &&
	    in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
		snprintf(err, errlen,
		         "--ethernet-out %s: that is the trace being read",
		         path);
		rc = -EEXIST;
		goto fail;
	}
	/* Guest data: 0600, like the trace.  Overwritten, as tcpdump -w
	 * does; an older file keeps its mode through O_TRUNC, so tighten it,
	 * but leave devices (/dev/null, a tty) and pipes alone. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	               fchmod(fd, 0600) && errno != EPERM)) {
		rc = -errno;
		snprintf(err, errlen, "--ethernet-out %s: %s%s", path,
		         fd < 0 ? "" : "fchmod: ", strerror(errno));
		goto fail;
	}
	o->f = fdopen(fd, "wb");
	if (!o->f) {
		rc = -errno;
		snprintf(err, errlen, "--ethernet-out %s: %s", path,
		         strerror(errno));
		goto fail;
	}
	*out = o;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (o)
		free(o->path);
	free(o);
	return rc;
}

static void put(struct vup_pcap_out *o, const void *p, size_t n)
{
	if (!o->error && n && fwrite(p, 1, n, o->f) != n)
		o->error = errno ? -errno : -EIO;
}

static void header(struct vup_pcap_out *o, uint32_t snaplen)
{
	uint32_t magic = PCAP_MAGIC_NS, zone = 0, sigfigs = 0;
	uint32_t network = LINKTYPE_ETHERNET;
	uint16_t major = 2, minor = 4;
	put(o, &magic, 4);
	put(o, &major, 2);
	put(o, &minor, 2);
	put(o, &zone, 4);
	put(o, &sigfigs, 4);
	put(o, &snaplen, 4);
	put(o, &network, 4);
	o->header_written = true;
	o->header_snaplen = snaplen;
}

int vup_pcap_out_frame(struct vup_pcap_out *o, const struct vup_record *rec)
{
	uint32_t snap = snaplen_of(rec->snaplen);
	if (rec->caplen > snap) /* an interface that kept more than it said */
		snap = snaplen_of(rec->caplen);
	if (!o->header_written)
		header(o, snap);
	if (snap > o->max_snaplen)
		o->max_snaplen = snap;
	uint32_t rh[4] = {
	        (uint32_t)(rec->ts_ns / 1000000000u),
	        (uint32_t)(rec->ts_ns % 1000000000u),
	        rec->caplen,
	        rec->origlen > rec->caplen ? rec->origlen : rec->caplen,
	};
	put(o, rh, sizeof(rh));
	put(o, rec->data, rec->caplen);
	if (!o->error)
		o->frames++;
	return o->error;
}

uint64_t vup_pcap_out_frames(const struct vup_pcap_out *o)
{
	return o->frames;
}

int vup_pcap_out_close(struct vup_pcap_out *o, char *err, size_t errlen)
{
	if (!o->header_written)
		header(o, PCAP_MAX_SNAPLEN);
	else if (o->max_snaplen > o->header_snaplen && !o->is_stdout &&
	         !o->error) {
		/* The snap length is at byte 16 of the header. */
		if (fseek(o->f, 16, SEEK_SET) == 0)
			put(o, &o->max_snaplen, 4);
	}
	if (!o->error && fflush(o->f))
		o->error = -errno;
	if (!o->is_stdout && fclose(o->f) && !o->error)
		o->error = -errno;
	int rc = o->error;
	if (rc)
		snprintf(err, errlen, "--ethernet-out %s: %s", o->path,
		         strerror(-rc));
	free(o->path);
	free(o);
	return rc;
}
