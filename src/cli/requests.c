/* requests: `vuproxy requests`, the catalogue as a table. */
#include <stdio.h>

#include "cli_internal.h"
#include "vuproxy/proto.h"

static const char *reply_rule_name(enum vup_reply_rule r)
{
	switch (r) {
	case VUP_REPLY_ALWAYS: return "always";
	case VUP_REPLY_FEATURE: return "feature";
	case VUP_REPLY_POSTCOPY: return "ack/postcopy";
	case VUP_REPLY_ACK_ANY: return "ack/any";
	default: return "ack";
	}
}

static const char *fd_rule_name(enum vup_fd_rule r)
{
	static const char *const n[] = {"0",      "1",        "0-1",
	                                "1/nofd", "nregions", "any"};
	return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}

int vup__cli_requests(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("%-8s %-4s %-34s %-18s %-10s %-9s %-13s %-5s %s\n", "channel",
	       "code", "name", "payload", "size", "fds", "reply", "rfds",
	       "gate");
	for (int ch = VUP_CHAN_MAIN; ch <= VUP_CHAN_BACKEND; ch++) {
		for (size_t i = 0; i < vup_proto_count(ch); i++) {
			const struct vup_msg_type *t = vup_proto_at(ch, i);
			char size[24];
			snprintf(size, sizeof(size), "%u-%u", t->req_min,
			         t->req_max);
			const char *gate = t->gate >= 0
			                           ? vup_protocol_feature_name(
			                                     (unsigned)t->gate)
			                           : "-";
			printf("%-8s %-4u %-34s %-18s %-10s %-9s %-13s %-5s "
			       "%s\n",
			       vup_chan_name(ch), t->code, t->name,
			       vup_layout_name(t->req_layout), size,
			       fd_rule_name(t->req_fds),
			       reply_rule_name(t->reply),
			       fd_rule_name(t->rep_fds), gate);
		}
	}
	return 0;
}
