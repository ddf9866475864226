/* control: `ctl stats --prometheus`.  The counters' names come from the
 * reply (members ending _total are counters, the rest gauges, nested
 * objects prefix their members), so a counter added to "stats" appears
 * here without a second list; HELP texts for the known ones are below. */
#include <errno.h>
#include <string.h>

#include "ctl.h"

static const struct {
	const char *name, *help;
} helps[] = {
        {"sessions_total", "Sessions opened since start."},
        {"sessions_failed_total",
         "Sessions closed on a protocol or I/O error."},
        {"sessions_live", "Sessions open now."},
        {"messages_total", "Messages relayed, both channels."},
        {"refused_total", "Connections refused (limits)."},
        {"tap_queues", "Virtqueues the tap has followed."},
        {"tap_consumed_total", "Buffers the devices consumed."},
        {"tap_captured_total", "Buffers the tap recorded."},
        {"tap_unverified_total",
         "Recorded buffers the tap could not re-check."},
        {"tap_missed_total", "Buffers the tap did not see."},
        {"tap_torn_total", "Buffers changed while the tap read them."},
        {"tap_malformed_total", "Buffers whose descriptors made no sense."},
        {"ring_size_bytes", "The flight recorder's size (--ring)."},
        {"ring_used_bytes", "Bytes of records the flight recorder holds."},
        {"ring_records", "Records the flight recorder holds."},
        {"ring_evicted_total", "Records that fell out of the flight recorder."},
        {"ring_window_seconds", "Age of the flight recorder's oldest record."},
        {"recording", "1 while a recording started at run time runs."},
};

static const char *help_of(const char *name)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, name) == 0)
			return helps[i].help;
	return NULL;
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; anything else becomes '_'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			*s = '_';
}

static void write_obj(FILE *f, const struct vup_json_doc *d, int obj,
                      const char *prefix, int depth)
{
	for (int k = d->n[obj].child; k >= 0; k = d->n[d->n[k].next].next) {
		int v = d->n[k].next;
		char key[128], name[256];
		if (vup_json_string(d, k, key, sizeof(key), NULL))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, key);
		sanitize(name);
		if (d->n[v].type == VUP_JSON_OBJECT && depth < 4) {
			char sub[256];
			snprintf(sub, sizeof(sub), "%s_", name);
			write_obj(f, d, v, sub, depth + 1);
			continue;
		}
		if (d->n[v].type != VUP_JSON_NUMBER)
			continue;
		size_t n = strlen(name);
		bool counter = n > 6 && strcmp(name + n - 6, "_total") == 0;
		const char *help = help_of(name);
		fprintf(f, "# HELP vuproxy_%s %s\n", name,
		        help ? help : "A vuproxy statistic.");
		fprintf(f, "# TYPE vuproxy_%s %s\n", name,
		        counter ? "counter" : "gauge");
		fprintf(f, "vuproxy_%s %.*s\n", name, (int)d->n[v].len,
		        d->text + d->n[v].start);
	}
}

int vup__prom_write(FILE *f, const struct vup_json_doc *d, int res)
{
	if (res < 0 || d->n[res].type != VUP_JSON_OBJECT)
		return -EINVAL;
	write_obj(f, d, res, "", 0);
	return 0;
}
