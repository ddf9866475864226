# compare.jq: the Wireshark dissector's fields against `vuproxy dump --json`,
# message by message.
#
#   jq -n -r --slurpfile t TSHARK_EK --slurpfile d DUMP_JSON -f compare.jq
#
# TSHARK_EK is `tshark -X lua_script:vuproxy.lua -r TRACE -T ek`; DUMP_JSON
# is `vuproxy dump TRACE --json`.  Prints one line per difference and
# nothing when they agree.  Payload fields are compared generically: each
# member of dump's "payload" object is the field vhostuser.LAYOUT.MEMBER
# (vhostuser.LAYOUT when the member is named like the layout) of the layout
# the dissector chose, with these members of render.c's variable parts:
# MEMBER_bits = the FIELD.bit strings, regions = the
# vhostuser.mem_table.region.* fields in region order, sizes =
# vhostuser.shmem_config.size, data / bytes = the bytes fields.  Every
# payload field tshark shows must be in dump's payload and the other way
# round, with the same value.

# Values as comparable strings: hex without leading zeros, the rest as text.
def norm:
  if type == "string" then
    if test("^0x[0-9a-fA-F]+$") then
      ascii_downcase | sub("^0x0*"; "0x") | if . == "0x" then "0x0" else . end
    else . end
  elif type == "null" then "null"
  elif type == "array" or type == "object" then .
  else tostring end;

def arr: if type == "array" then . else [.] end;

def header_members:
  ["request", "request_name", "flags", "flags_version", "flags_reply",
   "flags_need_reply", "flags_reserved", "size", "layout", "gate", "payload"]
  | map("vhostuser_vhostuser_" + .);

# The payload fields of one tshark message: {ek key: [values]}.
def actual:
  (.layers.vhostuser // {})
  | with_entries(
      select(.key as $k | header_members | index([$k]) | not)
      | select(.key | startswith("_ws") | not)  # expert infos
      | select(.key | test("_region(_extra)?$") | not)
      | .value |= (arr | map(norm))
      | if (.key | test("_(data|bytes)$")) then .value |= map(gsub(":"; ""))
        else . end);

# The same, as vuproxy dump renders it.
def expected($layout):
  ("vhostuser_vhostuser_" + $layout) as $p
  | def field($m): if $m == $layout then $p else $p + "_" + $m end;
    [.payload | to_entries[] | .key as $k | .value as $v
     | if $k == "regions" then
         if ($v | length) > 0 then
           ($v[0] | keys_unsorted[]) as $f
           | {key: ($p + "_region_" + $f), value: [$v[][$f]]}
         else empty end
       elif ($k | endswith("_bits")) then
         {key: (field($k | rtrimstr("_bits")) + "_bit"), value: $v}
       elif $k == "sizes" then {key: ($p + "_size"), value: $v}
       else {key: field($k), value: [$v]} end]
    | map(select(.value | length > 0) | .value |= map(norm))
    | from_entries;

def short: tojson | if length > 600 then .[:600] + "..." else . end;

def check($what; $tshark; $dump):
  if ($tshark | norm) == ($dump | norm) then empty
  else "\($what): tshark \($tshark | short), dump \($dump | short)" end;

($t | map(select(.layers))) as $ts
| if ($ts | length) != ($d | length) then
    "tshark shows \($ts | length) messages, vuproxy dump \($d | length)"
  else
    range(0; $d | length) as $i
    | $ts[$i].layers as $l
    | $d[$i] as $m
    | ($l.vhostuser // {}) as $v
    | ($l.vuproxy // {}) as $u
    | "message \($i + 1) (\($m.request)\(if $m.reply then " reply" else "" end))" as $at
    | (check("\($at) request name"; $v.vhostuser_vhostuser_request_name; $m.request),
       check("\($at) request code"; $v.vhostuser_vhostuser_request; $m.code),
       check("\($at) reply flag"; $v.vhostuser_vhostuser_flags_reply; $m.reply),
       check("\($at) need_reply flag"; $v.vhostuser_vhostuser_flags_need_reply;
             ($m.flags / 8 | floor) % 2 == 1),
       check("\($at) size"; $v.vhostuser_vhostuser_size; $m.size),
       check("\($at) session"; $u.vuproxy_vuproxy_session; $m.session),
       check("\($at) channel"; $u.vuproxy_vuproxy_channel; $m.channel),
       check("\($at) from"; $u.vuproxy_vuproxy_from; $m.from),
       check("\($at) nfds"; $u.vuproxy_vuproxy_nfds; $m.fds | length),
       check("\($at) fd kinds"; $u.vuproxy_vuproxy_fd_kind_name // [] | arr;
             $m.fds | map(.kind)),
       check("\($at) fd sizes"; $u.vuproxy_vuproxy_fd_size // [] | arr | map(norm);
             $m.fds | map(.size | norm)),
       check("\($at) action"; $u.vuproxy_vuproxy_action_name; $m.action),
       check("\($at) rule"; $u.vuproxy_vuproxy_rule; $m.rule),
       check("\($at) as_sent"; $u.vuproxy_vuproxy_flags_as_sent; $m.as_sent),
       check("\($at) payload (layout \($v.vhostuser_vhostuser_layout))";
             $ts[$i] | actual;
             $m | expected($v.vhostuser_vhostuser_layout // "")))
  end
