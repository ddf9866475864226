/* declared: the set-up in effect, as records (declared.h). */
#include <stdlib.h>
#include <string.h>

#include "vuproxy/declared.h"
#include "vuproxy/model.h"
#include "vuproxy/tracemsg.h"

/* One request of the set-up, and the reply that answered it. */
struct entry {
	uint32_t code;
	uint64_t sub; /* vring index or region address */
	uint64_t ts_ns, reply_ts_ns;
	uint64_t fed_ns;      /* its time in the model: pairs the reply */
	uint8_t *rec, *reply; /* reply: one came when reply_len > 0 */
	size_t len, reply_len, reply_cap;
	bool awaiting; /* a reply is owed and has not come */
	bool dead;     /* superseded */
};

/* The key of a vring's stops (GET_VRING_BASE and its SKIP_DRAIN form:
 * the catalogue's VRING_STOP): no request has this code. */
#define KEY_STOP UINT32_MAX
/* The keys of regions added and removed by address (REGION_ADD,
 * REGION_REM): the catalogue's kinds, not request codes, name them. */
#define KEY_ADD (UINT32_MAX - 1)
#define KEY_REM (UINT32_MAX - 2)

struct vup_declared {
	struct vup_model *model;
	struct entry *e;
	size_t n, cap, dead;
	/* Where each key's entry is (index + 1; 0 empty), open addressing:
	 * a flood of requests of thousands of keys looks each up in O(1).
	 * A key keeps its slot while its entry is superseded. */
	uint32_t *slot;
	size_t nslot, keys;
	uint64_t last_fed_ns;
	bool incomplete;
};

struct vup_declared *vup_declared_new(void)
{
	struct vup_declared *d = calloc(1, sizeof(*d));
	if (d && !(d->model = vup_model_new())) {
		free(d);
		d = NULL;
	}
	return d;
}

static void entry_free(struct entry *e)
{
	free(e->rec);
	free(e->reply);
}

void vup_declared_free(struct vup_declared *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		entry_free(&d->e[i]);
	free(d->e);
	free(d->slot);
	vup_model_free(d->model);
	free(d);
}

static void kill(struct vup_declared *d, struct entry *e)
{
	entry_free(e);
	e->rec = e->reply = NULL;
	e->dead = true;
	e->awaiting = false;
	d->dead++;
}

static uint64_t hash(uint32_t code, uint64_t sub)
{
	uint64_t h = sub * 0x9e3779b97f4a7c15ull ^ code * 0xc2b2ae3d27d4eb4full;
	return h ^ (h >> 29);
}

/* The slot of a key: its entry's, or the empty one it would take. */
static size_t slot_of(const struct vup_declared *d, uint32_t code, uint64_t sub)
{
	size_t mask = d->nslot - 1, i = hash(code, sub) & mask;
	while (d->slot[i]) {
		const struct entry *e = &d->e[d->slot[i] - 1];
		if (e->code == code && e->sub == sub)
			return i;
		i = (i + 1) & mask;
	}
	return i;
}

/* Index the live entries anew in nslot slots (a power of 2). */
static int reindex(struct vup_declared *d, size_t nslot)
{
	uint32_t *slot = calloc(nslot, sizeof(*slot));
	if (!slot)
		return -1;
	free(d->slot);
	d->slot = slot;
	d->nslot = nslot;
	d->keys = 0;
	for (size_t k = 0; k < d->n; k++) {
		if (d->e[k].dead)
			continue;
		size_t i = slot_of(d, d->e[k].code, d->e[k].sub);
		if (!d->slot[i])
			d->keys++;
		d->slot[i] = (uint32_t)k + 1;
	}
	return 0;
}

/* The live entry of a key, or NULL. */
static struct entry *find(struct vup_declared *d, uint32_t code, uint64_t sub)
{
	if (!d->nslot)
		return NULL;
	size_t i = slot_of(d, code, sub);
	struct entry *e = d->slot[i] ? &d->e[d->slot[i] - 1] : NULL;
	return e && !e->dead ? e : NULL;
}

static void compact(struct vup_declared *d)
{
	size_t w = 0;
	for (size_t i = 0; i < d->n; i++)
		if (!d->e[i].dead)
			d->e[w++] = d->e[i];
	d->n = w;
	d->dead = 0;
	if (reindex(d, d->nslot ? d->nslot : 64)) {
		/* No index rather than one naming moved entries. */
		free(d->slot);
		d->slot = NULL;
		d->nslot = d->keys = 0;
		d->incomplete = true;
	}
}

static uint8_t *copy(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);
	if (c && len)
		memcpy(c, p, len);
	return c;
}

static struct entry *append(struct vup_declared *d, uint32_t code, uint64_t sub,
                            uint64_t ts_ns, const uint8_t *rec, size_t len)
{
	if (d->dead > 64 && d->dead * 2 > d->n)
		compact(d);
	if (d->n - d->dead >= VUP_DECLARED_MAX) {
		d->incomplete = true;
		return NULL;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct entry *e = realloc(d->e, cap * sizeof(*e));
		if (!e) {
			d->incomplete = true;
			return NULL;
		}
		d->e = e;
		d->cap = cap;
	}
	/* At most half full: probes stay short. */
	if ((d->keys + 1) * 2 > d->nslot &&
	    reindex(d, d->nslot ? d->nslot * 2 : 64)) {
		d->incomplete = true;
		return NULL;
	}
	struct entry *e = &d->e[d->n];
	*e = (struct entry){.code = code, .sub = sub, .ts_ns = ts_ns};
	if (!(e->rec = copy(rec, len))) {
		d->incomplete = true;
		return NULL;
	}
	e->len = len;
	size_t i = slot_of(d, code, sub);
	if (!d->slot[i])
		d->keys++;
	d->slot[i] = (uint32_t)d->n + 1;
	d->n++;
	return e;
}

/* What the request's record replaces, by its kind (vup_proto_declares);
 * false when it is not kept itself (a REM_MEM_REG that undid an add). */
static bool supersede(struct vup_declared *d, enum vup_declare kind,
                      uint32_t code, uint64_t sub)
{
	if (kind == VUP_DECLARE_TABLE)
		for (size_t i = 0; i < d->n; i++)
			if (!d->e[i].dead && (d->e[i].code == KEY_ADD ||
			                      d->e[i].code == KEY_REM))
				kill(d, &d->e[i]);
	if (kind == VUP_DECLARE_REGION_REM) {
		struct entry *added = find(d, KEY_ADD, sub);
		if (added) {
			kill(d, added);
			return false;
		}
	}
	/* A ring set up again after it stopped: the stop is history. */
	if (kind == VUP_DECLARE_VRING) {
		struct entry *stop = find(d, KEY_STOP, sub);
		if (stop)
			kill(d, stop);
	}
	struct entry *old = find(d, code, sub);
	if (old)
		kill(d, old);
	return true;
}

/* The key of a request that lasts (*code, *sub); false for an event, or
 * a payload that does not hold its key. */
static bool key_of(const struct vup_view *v, enum vup_declare *kind,
                   uint32_t *code, uint64_t *sub)
{
	*sub = 0;
	*code = v->hdr.request;
	*kind = vup_proto_declares(v->chan, v->hdr.request);
	uint32_t index;
	switch (*kind) {
	case VUP_DECLARE_NONE: return false;
	case VUP_DECLARE_VRING_STOP:
		*code = KEY_STOP; /* the ring's last stop, whichever */
		                  /* fall through */
	case VUP_DECLARE_VRING:
		/* Rings past the model's are relayed, not restated. */
		if (!vup_view_vring(v, &index) || index >= VUP_MODEL_VRINGS)
			return false;
		*sub = index;
		return true;
	case VUP_DECLARE_REGION_ADD:
	case VUP_DECLARE_REGION_REM:
		*code = *kind == VUP_DECLARE_REGION_ADD ? KEY_ADD : KEY_REM;
		return vup_view_get(v, VUP_FLD_MEM_REG_GPA, sub);
	default: return true;
	}
}

static void pair_reply(struct vup_declared *d,
                       const struct vup_model_events *ev, uint64_t ts_ns,
                       const uint8_t *rec, size_t len)
{
	for (unsigned i = 0; i < ev->n; i++) {
		if (ev->e[i].kind != VUP_EV_REPLY_PAID)
			continue;
		for (size_t k = d->n; k-- > 0;) {
			struct entry *e = &d->e[k];
			if (!e->awaiting || e->fed_ns != ev->e[i].since_ns)
				continue;
			e->awaiting = false;
			if (!e->reply || e->reply_cap < len) {
				free(e->reply);
				e->reply_cap = 0;
				if (!(e->reply = copy(rec, len))) {
					d->incomplete = true;
					return;
				}
				e->reply_cap = len;
			} else {
				memcpy(e->reply, rec, len);
			}
			e->reply_len = len;
			e->reply_ts_ns = ts_ns;
			return;
		}
	}
}

/* The same key again as the newest entry (a request repeated, as a
 * flood repeats it): its place stays the same, so its buffers are
 * reused rather than freed and made anew.  NULL: not that case. */
static struct entry *renew_last(struct vup_declared *d, enum vup_declare kind,
                                uint32_t code, uint64_t sub, uint64_t ts_ns,
                                const uint8_t *rec, size_t len)
{
	if (kind != VUP_DECLARE_LAST && kind != VUP_DECLARE_VRING &&
	    kind != VUP_DECLARE_VRING_STOP)
		return NULL;
	struct entry *e = find(d, code, sub);
	if (!e || e != &d->e[d->n - 1] || e->len < len)
		return NULL;
	if (kind == VUP_DECLARE_VRING && find(d, KEY_STOP, sub))
		return NULL; /* a stop to undo: supersede's */
	memcpy(e->rec, rec, len);
	e->len = len;
	e->ts_ns = ts_ns;
	e->awaiting = false;
	e->reply_len = 0; /* its buffer stays for the next reply */
	return e;
}

void vup_declared_feed(struct vup_declared *d, uint64_t ts_ns,
                       const struct vup_trace_hdr *th, const uint8_t *rec,
                       size_t len, size_t hlen)
{
	if (th->declared || hlen > len)
		return; /* a restatement is not a new set-up */
	struct vup_trace_msg m;
	vup_trace_msg_split(th, rec + hlen, len - hlen, &m);
	/* Times pair replies with requests: each message its own. */
	uint64_t fed = ts_ns > d->last_fed_ns ? ts_ns : d->last_fed_ns + 1;
	d->last_fed_ns = fed;
	struct vup_view v;
	bool delivered;
	if (!vup_trace_msg_view(th, &m, vup_model_neg(d->model), fed, &v,
	                        &delivered))
		return;
	bool echo_ack = vup_model_echo_ack(d->model, &v);
	struct vup_model_events ev = {0};
	vup_model_feed(d->model, &v, delivered, &ev);
	if (v.reply) {
		pair_reply(d, &ev, ts_ns, rec, len);
		return;
	}
	enum vup_declare kind;
	uint64_t sub;
	uint32_t code;
	if (!delivered || echo_ack || !key_of(&v, &kind, &code, &sub))
		return;
	struct entry *e = renew_last(d, kind, code, sub, ts_ns, rec, len);
	if (!e) {
		if (!supersede(d, kind, code, sub))
			return;
		e = append(d, code, sub, ts_ns, rec, len);
	}
	for (unsigned i = 0; e && i < ev.n; i++)
		if (ev.e[i].kind == VUP_EV_REPLY_OWED) {
			e->awaiting = true;
			e->fed_ns = fed;
		}
}

int vup_declared_each(const struct vup_declared *d, vup_declared_fn fn,
                      void *ctx)
{
	for (size_t i = 0; d && i < d->n; i++) {
		const struct entry *e = &d->e[i];
		if (e->dead)
			continue;
		int rc = fn(ctx, e->ts_ns, e->rec, e->len);
		if (!rc && e->reply_len)
			rc = fn(ctx, e->reply_ts_ns, e->reply, e->reply_len);
		if (rc)
			return rc;
	}
	return 0;
}

size_t vup_declared_count(const struct vup_declared *d)
{
	size_t n = 0;
	for (size_t i = 0; d && i < d->n; i++)
		if (!d->e[i].dead)
			n += 1 + (d->e[i].reply_len != 0);
	return n;
}

bool vup_declared_complete(const struct vup_declared *d)
{
	return !d->incomplete;
}
