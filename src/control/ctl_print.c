/* control: the client's human output.  Tables with aligned columns, as
 * `ip` and `ovs-appctl` print them; --json prints the objects instead. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define COLS_MAX 12
#define CELL     160

/* A table built row by row, printed with each column as wide as its
 * widest cell. */
struct table {
	unsigned cols, rows, cap;
	char (*cell)[COLS_MAX][CELL];
};

static void t_row(struct table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 16;
		void *c = realloc(t->cell, cap * sizeof(*t->cell));
		if (!c)
			return;
		t->cell = c;
		t->cap = cap;
	}
	for (unsigned i = 0; i < t->cols; i++)
		snprintf(t->cell[t->rows][i], CELL, "%s",
		         cells[i] ? cells[i] : "-");
	t->rows++;
}

static void t_print(FILE *f, struct table *t, const char *indent)
{
	size_t w[COLS_MAX] = {0};
	for (unsigned r = 0; r < t->rows; r++)
		for (unsigned c = 0; c < t->cols; c++)
			if (strlen(t->cell[r][c]) > w[c])
				w[c] = strlen(t->cell[r][c]);
	for (unsigned r = 0; r < t->rows; r++) {
		fputs(indent, f);
		for (unsigned c = 0; c < t->cols; c++)
			fprintf(f, c + 1 < t->cols ? "%-*s  " : "%-*s\n",
			        c + 1 < t->cols ? (int)w[c] : 0, t->cell[r][c]);
	}
	free(t->cell);
	t->cell = NULL;
	t->rows = t->cap = 0;
}

/* Member key of obj as text in buf ("-" when absent or null). */
static const char *txt(const struct vup_json_doc *d, int obj, const char *key,
                       char *buf, size_t cap)
{
	int v = key ? vup_json_get(d, obj, key) : obj;
	if (v < 0 || d->n[v].type == VUP_JSON_NULL)
		return "-";
	if (d->n[v].type == VUP_JSON_STRING) {
		if (vup_json_string(d, v, buf, cap, NULL))
			return "?";
		return buf;
	}
	snprintf(buf, cap, "%.*s", (int)d->n[v].len, d->text + d->n[v].start);
	return buf;
}

#define TXT(obj, key, i) txt(d, obj, key, b[i], sizeof(b[i]))

static void owed_list(const struct vup_json_doc *d, int s, char *out,
                      size_t cap)
{
	int o = vup_json_get(d, s, "owed");
	out[0] = '\0';
	for (int e = o >= 0 ? d->n[o].child : -1; e >= 0; e = d->n[e].next) {
		char b[3][64];
		size_t n = strlen(out);
		int k = snprintf(out + n, cap - n, "%s%s(%s %sms)",
		                 n ? "," : "", TXT(e, "request", 0),
		                 TXT(e, "channel", 1), TXT(e, "age_ms", 2));
		if (k < 0 || (size_t)k >= cap - n)
			break; /* the column holds what fits */
	}
	if (!out[0])
		snprintf(out, cap, "-");
}

static void print_sessions(FILE *f, const struct vup_json_doc *d, int res)
{
	struct table t = {.cols = 8};
	t_row(&t,
	      (const char *const[]){"SESSION", "STATE", "MESSAGES", "FEATURES",
	                            "PROTOCOL", "OWED", "FRONTEND", "BACKEND"});
	for (int s = d->n[res].child; s >= 0; s = d->n[s].next) {
		char b[8][CELL];
		owed_list(d, s, b[7], sizeof(b[7]));
		t_row(&t, (const char *const[]){
		                  TXT(s, "session", 0), TXT(s, "state", 1),
		                  TXT(s, "messages", 2), TXT(s, "features", 3),
		                  TXT(s, "protocol_features", 4), b[7],
		                  TXT(s, "frontend", 5), TXT(s, "backend", 6)});
	}
	t_print(f, &t, "");
}

static void print_names(FILE *f, const struct vup_json_doc *d, int obj,
                        const char *what)
{
	if (obj < 0)
		return;
	static const char *const keys[2][2] = {{"acked", "acked_hex"},
	                                       {"offered", "offered_hex"}};
	for (int k = 0; k < 2; k++) {
		char b[1][CELL];
		int arr = vup_json_get(d, obj, keys[k][0]);
		fprintf(f, "%-9s %-7s %-18s", k ? "" : what, keys[k][0],
		        TXT(obj, keys[k][1], 0));
		for (int e = arr >= 0 ? d->n[arr].child : -1; e >= 0;
		     e = d->n[e].next)
			fprintf(f, " %s", TXT(e, NULL, 0));
		fputc('\n', f);
	}
}

static void print_vrings(FILE *f, const struct vup_json_doc *d, int arr)
{
	struct table t = {.cols = 11};
	t_row(&t, (const char *const[]){"INDEX", "NUM", "STATE", "ENABLED",
	                                "BASE", "STOPPED_AT", "DESC", "AVAIL",
	                                "USED", "AVAIL_IDX", "USED_IDX"});
	char missing[CELL] = "";
	for (int v = arr >= 0 ? d->n[arr].child : -1; v >= 0;
	     v = d->n[v].next) {
		char b[11][CELL];
		int live = vup_json_get(d, v, "live");
		if (live < 0)
			snprintf(missing, CELL, "%s",
			         TXT(v, "live_missing", 10));
		t_row(&t, (const char *const[]){
		                  TXT(v, "index", 0), TXT(v, "num", 1),
		                  TXT(v, "state", 2), TXT(v, "enabled", 3),
		                  TXT(v, "base", 4), TXT(v, "stopped_at", 5),
		                  TXT(v, "desc", 6), TXT(v, "avail", 7),
		                  TXT(v, "used", 8),
		                  live >= 0 ? TXT(live, "avail_idx", 9) : "-",
		                  live >= 0 ? TXT(live, "used_idx", 10) : "-"});
	}
	fprintf(f, "vrings:\n");
	t_print(f, &t, "  ");
	if (missing[0])
		fprintf(f, "  (live indices: %s)\n", missing);
}

static void print_show(FILE *f, const struct vup_json_doc *d, int res)
{
	char b[4][CELL];
	fprintf(f, "session %s (%s), %s messages, status %s\n",
	        TXT(res, "session", 0), TXT(res, "state", 1),
	        TXT(res, "messages", 2), TXT(res, "status", 3));
	print_names(f, d, vup_json_get(d, res, "features"), "features");
	print_names(f, d, vup_json_get(d, res, "protocol_features"),
	            "protocol");
	struct table t = {.cols = 4};
	t_row(&t, (const char *const[]){"GPA", "SIZE", "UADDR", "MMAP_OFFSET"});
	int mem = vup_json_get(d, res, "memory");
	for (int r = mem >= 0 ? d->n[mem].child : -1; r >= 0; r = d->n[r].next)
		t_row(&t,
		      (const char *const[]){TXT(r, "gpa", 0), TXT(r, "size", 1),
		                            TXT(r, "uaddr", 2),
		                            TXT(r, "mmap_offset", 3)});
	fprintf(f, "memory:\n");
	t_print(f, &t, "  ");
	print_vrings(f, d, vup_json_get(d, res, "vrings"));
}

/* Members as "name value" lines; nested objects as name.member. */
static void print_pairs(FILE *f, const struct vup_json_doc *d, int obj,
                        const char *prefix)
{
	for (int k = d->n[obj].child; k >= 0; k = d->n[d->n[k].next].next) {
		int v = d->n[k].next;
		char key[128], name[256], b[1][CELL];
		if (vup_json_string(d, k, key, sizeof(key), NULL))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (d->n[v].type == VUP_JSON_OBJECT) {
			strcat(name, ".");
			print_pairs(f, d, v, name);
		} else {
			fprintf(f, "%-28s %s\n", name, TXT(v, NULL, 0));
		}
	}
}

static void print_help(FILE *f, const struct vup_json_doc *d, int res)
{
	struct table t = {.cols = 3};
	t_row(&t, (const char *const[]){"COMMAND", "ARGS", "WHAT"});
	for (int c = d->n[res].child; c >= 0; c = d->n[c].next) {
		char b[3][CELL];
		t_row(&t,
		      (const char *const[]){TXT(c, "cmd", 0), TXT(c, "args", 1),
		                            TXT(c, "help", 2)});
	}
	t_print(f, &t, "");
}

void vup__ctl_print(FILE *f, const char *cmd, const struct vup_json_doc *d,
                    int res)
{
	enum vup_json_type ty = d->n[res].type;
	if (strcmp(cmd, "sessions") == 0 && ty == VUP_JSON_ARRAY)
		print_sessions(f, d, res);
	else if (strcmp(cmd, "show") == 0 && ty == VUP_JSON_OBJECT)
		print_show(f, d, res);
	else if (strcmp(cmd, "help") == 0 && ty == VUP_JSON_ARRAY)
		print_help(f, d, res);
	else if (ty == VUP_JSON_OBJECT)
		print_pairs(f, d, res, "");
	else
		fprintf(f, "%.*s\n", (int)d->n[res].len,
		        d->text + d->n[res].start);
}

void vup__ctl_print_event(FILE *f, const struct vup_json_doc *d)
{
	char b[3][CELL];
	fprintf(f, "%s s%s %s", TXT(0, "time", 0), TXT(0, "session", 1),
	        TXT(0, "event", 2));
	for (int k = d->n[0].child; k >= 0; k = d->n[d->n[k].next].next) {
		char key[64];
		vup_json_string(d, k, key, sizeof(key), NULL);
		if (strcmp(key, "time") && strcmp(key, "session") &&
		    strcmp(key, "event"))
			fprintf(f, " %s=%s", key, TXT(d->n[k].next, NULL, 0));
	}
	fputc('\n', f);
}
