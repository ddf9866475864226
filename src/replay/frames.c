/* frames: the TX frames the tap captured, read from the trace for
 * `replay --frames` (the data plane that offers them again is
 * frames_dp.c and frames_ring.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "vuproxy/reader.h"

void vup_replay_frames_free(struct vup_replay_frames *fr)
{
	if (!fr)
		return;
	for (size_t i = 0; i < fr->n; i++)
		free(fr->f[i].data);
	free(fr->f);
	memset(fr, 0, sizeof(*fr));
}

/* "s<session> net q<odd> tx" of this session: its queue index. */
static bool tx_iface(const char *name, uint32_t session, uint16_t *queue)
{
	unsigned s, q;
	char dir[4];
	int end = 0;
	if (sscanf(name, "s%u net q%u %3s%n", &s, &q, dir, &end) != 3 ||
	    name[end] != '\0')
		return false;
	if (s != session || strcmp(dir, "tx") != 0 ||
	    q >= VUP_REPLAY_DP_QUEUES || q % 2 == 0)
		return false;
	*queue = (uint16_t)q;
	return true;
}

/* What loading has gathered so far. */
struct loader {
	const char *path;
	uint32_t session;
	uint64_t max;
	bool pad;
	struct vup_replay_frames fr;
	size_t cap;
	uint32_t snaplen; /* of the last frame cut */
	uint64_t packets; /* read so far */
};

/* Appends the frame of rec, on queue q. */
static int append(struct loader *ld, const struct vup_record *rec, uint16_t q,
                  char *err, size_t errlen)
{
	struct vup_replay_frames *fr = &ld->fr;
	if (fr->n == ld->cap) {
		size_t cap = ld->cap ? ld->cap * 2 : 256;
		struct vup_replay_frame *f = realloc(fr->f, cap * sizeof(*f));
		if (!f) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		fr->f = f;
		ld->cap = cap;
	}
	struct vup_replay_frame *f = &fr->f[fr->n];
	f->data = calloc(1, rec->origlen ? rec->origlen : 1);
	if (!f->data) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(f->data, rec->data, rec->caplen);
	f->frame = ld->packets;
	f->queue = q;
	f->caplen = rec->caplen;
	f->len = rec->origlen;
	fr->n++;
	fr->bytes += rec->origlen;
	if (rec->origlen > fr->max_len)
		fr->max_len = rec->origlen;
	return 0;
}

/* Takes record rec if it is a TX frame of the session.  0 or -errno
 * with err. */
static int take(struct loader *ld, const struct vup_record *rec, char *err,
                size_t errlen)
{
	struct vup_replay_frames *fr = &ld->fr;
	uint16_t q;
	if (rec->linktype != LINKTYPE_ETHERNET ||
	    !tx_iface(rec->ifname, ld->session, &q))
		return 0;
	if (ld->max && fr->n == ld->max) {
		fr->left++;
		return 0;
	}
	if (rec->caplen > rec->origlen ||
	    rec->origlen > VUP_REPLAY_MAX_FRAME_LEN) {
		snprintf(err, errlen,
		         "%s: frame %llu: %u bytes of a %u-byte frame "
		         "(at most %u bytes are replayed)",
		         ld->path, (unsigned long long)ld->packets, rec->caplen,
		         rec->origlen, VUP_REPLAY_MAX_FRAME_LEN);
		return -EINVAL;
	}
	if (rec->caplen < rec->origlen) {
		fr->cut++;
		ld->snaplen = rec->snaplen;
		if (!ld->pad)
			return 0; /* counted, refused at the end */
	}
	if (fr->bytes + rec->origlen > VUP_REPLAY_MAX_FRAME_BYTES) {
		snprintf(err, errlen,
		         "%s: the TX frames of session %u take more "
		         "than %llu bytes; replay the first N with "
		         "--frames=N",
		         ld->path, ld->session,
		         (unsigned long long)VUP_REPLAY_MAX_FRAME_BYTES);
		return -E2BIG;
	}
	return append(ld, rec, q, err, errlen);
}

/* Refuses what was read: cut frames without --frames-pad, or none. */
static int check_loaded(const struct loader *ld, char *err, size_t errlen)
{
	if (ld->fr.cut && !ld->pad) {
		snprintf(err, errlen,
		         "%s: %zu of the TX frames of session %u are cut to "
		         "the snap length (%u bytes; caplen < origlen): "
		         "replaying them would send other frames than the "
		         "guest did.  Record full frames (vuproxy --tap net "
		         "-s 0), or pad them with zeros to their length "
		         "with --frames-pad",
		         ld->path, ld->fr.cut, ld->session, ld->snaplen);
		return -EINVAL;
	}
	if (!ld->fr.n) {
		snprintf(err, errlen,
		         "%s: no TX frames of session %u (tap interfaces "
		         "\"s%u net qN tx\"): record with vuproxy --tap net",
		         ld->path, ld->session, ld->session);
		return -ENOENT;
	}
	return 0;
}

int vup_replay_load_frames(const char *path, uint32_t session, uint64_t max,
                           bool pad, bool partial,
                           struct vup_replay_frames *out, char *err,
                           size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct vup_reader *rd;
	int rc = vup_reader_open(path, &rd, err, errlen);
	if (rc)
		return rc;
	struct loader ld = {
	        .path = path, .session = session, .max = max, .pad = pad};
	char rerr[384];
	for (;;) {
		struct vup_record rec;
		enum vup_read_status st =
		        vup_reader_next(rd, &rec, rerr, sizeof(rerr));
		if (st == VUP_READ_END || (st == VUP_READ_TRUNCATED && partial))
			break;
		if (st != VUP_READ_RECORD) {
			snprintf(err, errlen, "%s: %s", path, rerr);
			rc = -EINVAL;
			break;
		}
		ld.packets++;
		rc = take(&ld, &rec, err, errlen);
		if (rc)
			break;
	}
	if (!rc)
		rc = check_loaded(&ld, err, errlen);
	vup_reader_close(rd);
	if (rc) {
		vup_replay_frames_free(&ld.fr);
		return rc;
	}
	*out = ld.fr;
	return 0;
}
