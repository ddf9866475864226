/* bench-trace-write: what recording costs, per message and in MB/s.
 *
 * 1. Control messages: N messages (40-byte SET_VRING_ADDR, every 50th a
 *    328-byte SET_MEM_TABLE, as a session mixes them) through the real
 *    trace writer, each compressed and sync-flushed to the file as the
 *    relay does before it forwards: the mean and worst time per message.
 * 2. The same run as throughput against `gzip -1`: the pcapng the writer
 *    produced (its file, gunzipped here with zlib) compressed again with
 *    zlib level 1 in one deflate stream with no flush, as `gzip -1` does,
 *    and written to a file.  MB/s (10^6 bytes) of uncompressed pcapng for
 *    both, writer/gzip (target >= 0.8), and the compressed sizes.
 * 3. The bulk case: FRAMES tap frames of 64..1514 bytes through
 *    vup_trace_packet, which batches them without a flush each, flushed
 *    once at the end; then gzip -1 on the same bytes, as in 2.
 * ROUNDS rounds, each running 1-3 in turn; the medians are reported.  The
 * writer's time covers its calls (and, for 1, two clock reads per
 * message), not the final close, which only ends the gzip stream and
 * fsyncs; gzip's covers deflate and its writes, not the close either.
 *
 *   bench-trace-write [FILE.pcapng.gz] [N] [FRAMES] [ROUNDS]
 *       (defaults: files in a temporary directory, removed at the end,
 *        also for FILE ""; 200000, 100000, 3)
 * With FILE, the files are kept: FILE (control messages), and beside it
 * -tap.pcapng.gz, -gzip1.pcapng.gz and -tap-gzip1.pcapng.gz.  Human lines
 * come first, then key=value lines for bench/trace.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "vuproxy/trace.h"

#define TARGET      0.8  /* writer/gzip MB/s, from the issue */
#define FRAME_POOL  4096 /* distinct frames, more than deflate's window */
#define FRAME_MIN   64
#define FRAME_MAX   1514
#define MAX_ROUNDS  99
#define GZIP_INBUF  65536 /* input per deflate call; hardly matters */
#define GZIP_OUTBUF 16384

struct run {
	double secs;        /* the timed part */
	double worst;       /* control messages: the slowest one */
	uint64_t pcapng;    /* uncompressed bytes */
	uint64_t gz;        /* compressed bytes on disk */
	double gzip_secs;   /* gzip -1 on the same pcapng */
	uint64_t gzip_gz;   /* its output */
	const char *failed; /* what went wrong, NULL if nothing */
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct vup_trace *open_trace(const char *path)
{
	struct vup_trace_config cfg = {.path = path};
	struct vup_trace *t;
	char err[256];
	if (vup_trace_open(&cfg, &t, err, sizeof(err))) {
		fprintf(stderr, "bench-trace-write: %s\n", err);
		return NULL;
	}
	vup_trace_add_session(t, 1, "s1 bench", "bench-trace-write");
	return t;
}

/* 1: n control messages, each flushed, as the relay writes them. */
static int write_control(const char *path, long n, struct run *r)
{
	struct vup_trace *t = open_trace(path);
	if (!t)
		return -1;
	struct vup_trace_hdr h = {.session = 1};
	static uint8_t payload[VUP_MAX_PAYLOAD];
	memset(payload, 0x5a, sizeof(payload));
	int rc = 0;
	double start = now_s();
	r->worst = 0;
	for (long i = 0; i < n && !rc; i++) {
		struct vup_hdr m = {i % 50 ? 9 : 5, 1, i % 50 ? 40 : 328};
		double a = now_s();
		rc = vup_trace_message(t, (uint64_t)i, &h, &m, payload);
		double d = now_s() - a;
		if (d > r->worst)
			r->worst = d;
	}
	r->secs = now_s() - start;
	int crc = vup_trace_close(t);
	return rc ? rc : crc;
}

static void be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An Ethernet/IPv4/UDP frame of len bytes numbered no.  The payload is
 * letters drawn from 16, so that it compresses about 2:1 like typical
 * traffic, not as a constant fill or random bytes would. */
static void make_frame(uint8_t *f, uint32_t len, uint32_t no, uint64_t *rng)
{
	/* 02:..:02 < 02:..:01, IPv4 */
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 2, 2,
	                                0, 0, 0, 0, 1, 8, 0};
	/* no options, don't fragment, TTL 64, UDP, 10.0.0.1 > 10.0.0.2 */
	static const uint8_t ip[20] = {0x45, 0, 0,  0, 0, 0, 0x40, 0, 64, 17,
	                               0,    0, 10, 0, 0, 1, 10,   0, 0,  2};
	memcpy(f, eth, sizeof(eth));
	memcpy(f + 14, ip, sizeof(ip));
	be16(f + 16, len - 14); /* IP total length */
	be16(f + 18, no);       /* IP id */
	be16(f + 34, 12345);    /* UDP ports */
	be16(f + 36, 12345);
	be16(f + 38, len - 34); /* UDP length, no checksum */
	be16(f + 40, 0);
	for (uint32_t i = 42; i < len; i++)
		f[i] = (uint8_t)('a' + (xorshift(rng) & 15));
}

struct frames {
	uint8_t *data; /* FRAME_POOL frames of FRAME_MAX bytes */
	uint32_t len[FRAME_POOL];
};

/* Made before any timing: the writer is timed, not the traffic. */
static int make_frames(struct frames *fr)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	fr->data = malloc((size_t)FRAME_POOL * FRAME_MAX);
	if (!fr->data)
		return -1;
	for (uint32_t i = 0; i < FRAME_POOL; i++) {
		fr->len[i] =
		        FRAME_MIN + (uint32_t)(xorshift(&rng) %
		                               (FRAME_MAX - FRAME_MIN + 1));
		make_frame(fr->data + (size_t)i * FRAME_MAX, fr->len[i], i,
		           &rng);
	}
	return 0;
}

/* 3: n tap frames, batched by the writer, flushed once at the end. */
static int write_frames(const char *path, long n, const struct frames *fr,
                        struct run *r)
{
	struct vup_trace *t = open_trace(path);
	uint32_t q;
	if (!t)
		return -1;
	if (vup_trace_add_iface(t, 1, LINKTYPE_ETHERNET, 65535, "s1 tap q0",
	                        "bench frames", &q)) {
		vup_trace_close(t);
		return -1;
	}
	int rc = 0;
	double start = now_s();
	for (long i = 0; i < n && !rc; i++) {
		uint32_t k = (uint32_t)(i % FRAME_POOL);
		rc = vup_trace_packet(t, q, (uint64_t)i * 1000,
		                      PCAPNG_DIR_INBOUND,
		                      fr->data + (size_t)k * FRAME_MAX,
		                      fr->len[k], fr->len[k]);
	}
	if (!rc)
		rc = vup_trace_flush(t);
	r->secs = now_s() - start;
	int crc = vup_trace_close(t);
	return rc ? rc : crc;
}

/* The uncompressed pcapng of a gzip file, whole, in *out (malloc'd). */
static int gunzip_file(const char *path, uint8_t **out, size_t *len)
{
	gzFile g = gzopen(path, "rb");
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf = malloc(cap);
	if (!g || !buf) {
		if (g)
			gzclose(g);
		free(buf);
		return -1;
	}
	gzbuffer(g, 1 << 17);
	for (;;) {
		if (n == cap) {
			uint8_t *b = realloc(buf, cap * 2);
			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		unsigned want =
		        cap - n > (1u << 30) ? 1u << 30 : (unsigned)(cap - n);
		int got = gzread(g, buf + n, want);
		if (got <= 0) {
			int err;
			gzerror(g, &err);
			gzclose(g);
			if (got < 0 || err != Z_OK) {
				free(buf);
				return -1;
			}
			*out = buf;
			*len = n;
			return 0;
		}
		n += (size_t)got;
	}
	gzclose(g);
	free(buf);
	return -1;
}

static int write_out(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* `gzip -1` in-process: one deflate stream (gzip wrapper, level 1, the
 * writer's window and memory level), input in 64 KiB chunks, no flush
 * until the end, output written to path. */
static int gzip1(const uint8_t *in, size_t len, const char *path, struct run *r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	static uint8_t out[GZIP_OUTBUF];
	z_stream z = {0};
	int rc = 0;
	double start = now_s();
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK) {
		close(fd);
		return -1;
	}
	size_t off = 0;
	int flush;
	do {
		size_t chunk = len - off > GZIP_INBUF ? GZIP_INBUF : len - off;
		z.next_in = (uint8_t *)(uintptr_t)(in + off);
		z.avail_in = (uInt)chunk;
		off += chunk;
		flush = off == len ? Z_FINISH : Z_NO_FLUSH;
		do {
			z.next_out = out;
			z.avail_out = sizeof(out);
			if (deflate(&z, flush) == Z_STREAM_ERROR)
				rc = -1;
			size_t have = sizeof(out) - z.avail_out;
			if (!rc && have && write_out(fd, out, have))
				rc = -1;
		} while (!rc && z.avail_out == 0);
	} while (!rc && flush != Z_FINISH);
	r->gzip_secs = now_s() - start;
	r->gzip_gz = z.total_out;
	deflateEnd(&z);
	if (close(fd))
		rc = -1;
	return rc;
}

/* Gunzip what the writer wrote to trace, gzip -1 it again to copy. */
static int against_gzip(const char *trace, const char *copy, struct run *r)
{
	uint8_t *pcapng;
	size_t len;
	r->gz = file_size(trace);
	if (gunzip_file(trace, &pcapng, &len)) {
		r->failed = "gunzip of the writer's file";
		return -1;
	}
	r->pcapng = len;
	int rc = gzip1(pcapng, len, copy, r);
	free(pcapng);
	if (rc)
		r->failed = "gzip -1";
	return rc;
}

static double mbps(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e6 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct summary {
	double writer, gzip, ratio; /* medians: MB/s, MB/s, writer/gzip */
};

static struct summary summarize(const struct run *r, int rounds)
{
	double w[MAX_ROUNDS], g[MAX_ROUNDS], q[MAX_ROUNDS];
	for (int i = 0; i < rounds; i++) {
		w[i] = mbps(r[i].pcapng, r[i].secs);
		g[i] = mbps(r[i].pcapng, r[i].gzip_secs);
		q[i] = g[i] > 0 ? w[i] / g[i] : 0;
	}
	struct summary s = {median(w, rounds), median(g, rounds),
	                    median(q, rounds)};
	return s;
}

static void report(const char *what, const struct run *last, struct summary s)
{
	printf("%s: writer %.1f MB/s, gzip -1 %.1f MB/s, writer/gzip = %.3f "
	       "(target >= %.1f) %s\n"
	       "    %llu bytes of pcapng -> writer %llu bytes (%.1f%%), "
	       "gzip -1 %llu bytes (%.1f%%)\n",
	       what, s.writer, s.gzip, s.ratio, TARGET,
	       s.ratio >= TARGET ? "met" : "NOT met",
	       (unsigned long long)last->pcapng, (unsigned long long)last->gz,
	       100.0 * (double)last->gz / (double)last->pcapng,
	       (unsigned long long)last->gzip_gz,
	       100.0 * (double)last->gzip_gz / (double)last->pcapng);
}

/* The same as key=value lines, for bench/trace.sh. */
static void results(const char *key, const struct run *last, struct summary s)
{
	printf("%s_writer_mbps=%.2f\n%s_gzip_mbps=%.2f\n%s_ratio=%.3f\n"
	       "%s_pcapng_bytes=%llu\n%s_writer_gz_bytes=%llu\n"
	       "%s_gzip_gz_bytes=%llu\n",
	       key, s.writer, key, s.gzip, key, s.ratio, key,
	       (unsigned long long)last->pcapng, key,
	       (unsigned long long)last->gz, key,
	       (unsigned long long)last->gzip_gz);
}

/* base + suffix, base being path without ".pcapng.gz". */
static char *sibling(const char *path, const char *suffix)
{
	size_t pl = strlen(path), el = strlen(".pcapng.gz");
	if (pl > el && strcmp(path + pl - el, ".pcapng.gz") == 0)
		pl -= el;
	size_t len = pl + strlen(suffix) + 1;
	char *s = malloc(len);
	if (s)
		snprintf(s, len, "%.*s%s", (int)pl, path, suffix);
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-trace-write [FILE.pcapng.gz] [N] "
	                "[FRAMES] [ROUNDS]\n");
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/bench-trace-XXXXXX", tmp[64];
	const char *path = argc > 1 && argv[1][0] ? argv[1] : NULL;
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
	long frames = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
	int rounds = argc > 4 ? atoi(argv[4]) : 3;
	if (argc > 5 || n < 1 || frames < 1 || rounds < 1 ||
	    rounds > MAX_ROUNDS) {
		usage();
		return 2;
	}
	if (!path) {
		if (!mkdtemp(dir))
			return 1;
		snprintf(tmp, sizeof(tmp), "%s/t.pcapng.gz", dir);
		path = tmp;
	}
	char *tap = sibling(path, "-tap.pcapng.gz");
	char *copy = sibling(path, "-gzip1.pcapng.gz");
	char *tap_copy = sibling(path, "-tap-gzip1.pcapng.gz");
	struct frames fr;
	if (!tap || !copy || !tap_copy || make_frames(&fr))
		return 1;
	static struct run ctl[MAX_ROUNDS], bulk[MAX_ROUNDS];
	double means[MAX_ROUNDS], worst = 0;
	int rc = 0;
	for (int i = 0; i < rounds && !rc; i++) {
		rc = write_control(path, n, &ctl[i]);
		if (rc)
			ctl[i].failed = "the control trace";
		else
			rc = against_gzip(path, copy, &ctl[i]);
		if (!rc && write_frames(tap, frames, &fr, &bulk[i])) {
			bulk[i].failed = "the tap trace";
			rc = -1;
		}
		if (!rc)
			rc = against_gzip(tap, tap_copy, &bulk[i]);
		if (rc) {
			fprintf(stderr,
			        "bench-trace-write: round %d: %s failed\n",
			        i + 1,
			        ctl[i].failed ? ctl[i].failed : bulk[i].failed);
			break;
		}
		means[i] = ctl[i].secs / (double)n * 1e6;
		if (ctl[i].worst > worst)
			worst = ctl[i].worst;
		printf("round %d: control writer %.1f gzip -1 %.1f MB/s; tap "
		       "frames writer %.1f gzip -1 %.1f MB/s\n",
		       i + 1, mbps(ctl[i].pcapng, ctl[i].secs),
		       mbps(ctl[i].pcapng, ctl[i].gzip_secs),
		       mbps(bulk[i].pcapng, bulk[i].secs),
		       mbps(bulk[i].pcapng, bulk[i].gzip_secs));
	}
	if (!rc) {
		double mean = median(means, rounds);
		printf("trace write: %ld messages, mean %.2f us, worst %.1f us "
		       "(compress + Z_SYNC_FLUSH + write per message; median "
		       "of %d rounds, worst of all)\n",
		       n, mean, worst * 1e6, rounds);
		struct summary sc = summarize(ctl, rounds),
		               sb = summarize(bulk, rounds);
		char what[96];
		snprintf(what, sizeof(what),
		         "%ld tap frames of %d..%d bytes, one flush", frames,
		         FRAME_MIN, FRAME_MAX);
		report("control messages, each sync-flushed", &ctl[rounds - 1],
		       sc);
		report(what, &bulk[rounds - 1], sb);
		if (path != tmp)
			printf("files kept: %s %s %s %s\n", path, tap, copy,
			       tap_copy);
		results("trace_msg", &ctl[rounds - 1], sc);
		results("trace_tap", &bulk[rounds - 1], sb);
		printf("trace_msg_us=%.3f\ntrace_msg_worst_us=%.1f\n", mean,
		       worst * 1e6);
	}
	if (path == tmp) {
		unlink(path);
		unlink(tap);
		unlink(copy);
		unlink(tap_copy);
		rmdir(dir);
	}
	free(fr.data);
	free(tap);
	free(copy);
	free(tap_copy);
	return rc ? 1 : 0;
}
