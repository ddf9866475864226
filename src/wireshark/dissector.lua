-- @GENERATED@ stamp. Edit here, then regenerate tools/wireshark/vuproxy.lua.
--
-- Wireshark dissector for vuproxy traces (vuproxy -w FILE.pcapng.gz).  Each
-- session's control channel is an interface of link type USER0 (147); each
-- packet is vuproxy's pseudo-header followed by one vhost-user message.
--
--   tshark -X lua_script:vuproxy.lua -r trace.pcapng.gz
--   wireshark -X lua_script:vuproxy.lua trace.pcapng.gz
--
-- or copy it to your personal Lua plugins folder (Help > About Wireshark >
-- Folders), e.g. ~/.local/lib/wireshark/plugins/.  It takes over USER0 from
-- the user_dlts table.
--
-- The tap's records: Ethernet interfaces ("s1 net q1 tx") are Wireshark's own;
-- blk requests ("s1 blk", link type USER1, 148) are decoded here as
-- vuproxy.blk.* (vuproxy.blk.type, .type_name, .sector, .len, .status,
-- .status_name, .latency in ns, .queue, .id, .used_len, .data), e.g.
--   tshark ... -Y 'vuproxy.blk.status != 0' -T fields -e vuproxy.blk.sector
--
-- The checker's findings (the interface "vuproxy findings", link type USER3,
-- 150) are decoded as vuproxy.finding.* (.id, .severity, .severity_name,
-- .session, .frame: the frame it is about, .request_name, .message, .rule,
-- .title, .section, .quote) and raise an expert info of their severity, so
--   tshark ... -q -z expert
-- lists them, and e.g. tshark ... -Y 'vuproxy.finding.id == "VU012"'.
--
-- Fields: vuproxy.* for the pseudo-header (vuproxy.session, vuproxy.channel,
-- vuproxy.direction, vuproxy.fd.kind, vuproxy.action, vuproxy.rule, ...),
-- vhostuser.* for the message: vhostuser.request (code), vhostuser.request_name,
-- vhostuser.flags.reply, vhostuser.size, and one field per payload field named
-- vhostuser.LAYOUT.FIELD (vhostuser.LAYOUT when the field is named like its
-- layout), e.g. vhostuser.vring_addr.desc, vhostuser.features; feature words
-- add FIELD.bit once per bit that is set, e.g.
--   tshark ... -Y 'vhostuser.features.bit == "VIRTIO_F_RING_PACKED"'
--
-- Regenerate after changing src/proto/catalogue.c or src/proto/fields.c:
--   vuproxy wireshark-lua > tools/wireshark/vuproxy.lua

-- @TABLES@ becomes the tables printed from the catalogue (src/wireshark/lua.c).
-- The dissector.  Everything above this line is data from the catalogue;
-- what follows reads it and knows no request, layout or field by itself.

local vuproxy = Proto("vuproxy", "vuproxy trace pseudo-header")
local vhostuser = Proto("vhostuser", "vhost-user")

-- Pseudo-header fields (vuproxy.*).
local pf = {
	magic = ProtoField.string("vuproxy.magic", "Magic"),
	version = ProtoField.uint8("vuproxy.version", "Version"),
	flags = ProtoField.uint8("vuproxy.flags", "Flags", base.HEX),
	backend_channel = ProtoField.bool("vuproxy.flags.backend_channel",
		"Back-end channel", 8, nil, TRACE_F_BACKEND_CHAN),
	from_backend = ProtoField.bool("vuproxy.flags.from_backend",
		"From the back-end", 8, nil, TRACE_F_FROM_BACKEND),
	as_sent = ProtoField.bool("vuproxy.flags.as_sent",
		"Copy as sent (rewrite, fail, release)", 8, nil, TRACE_F_AS_SENT),
	flags_reserved = ProtoField.uint8("vuproxy.flags.reserved",
		"Reserved", base.HEX, nil, TRACE_F_RESERVED),
	hdr_len = ProtoField.uint16("vuproxy.hdr_len", "Header length"),
	action = ProtoField.uint8("vuproxy.action", "Action", base.DEC,
		ACTION),
	action_name = ProtoField.string("vuproxy.action_name", "Action name"),
	nfds = ProtoField.uint8("vuproxy.nfds", "Number of fds"),
	session = ProtoField.uint32("vuproxy.session", "Session"),
	rule_len = ProtoField.uint8("vuproxy.rule_len", "Rule name length"),
	reserved = ProtoField.bytes("vuproxy.reserved", "Reserved"),
	fd = ProtoField.none("vuproxy.fd", "fd"),
	fd_kind = ProtoField.uint8("vuproxy.fd.kind", "Kind", base.DEC,
		FD_KIND),
	fd_kind_name = ProtoField.string("vuproxy.fd.kind_name", "Kind name"),
	fd_reserved = ProtoField.bytes("vuproxy.fd.reserved", "Reserved"),
	fd_size = ProtoField.uint64("vuproxy.fd.size", "Size"),
	rule = ProtoField.string("vuproxy.rule", "Rule", base.UNICODE),
	padding = ProtoField.bytes("vuproxy.padding", "Padding"),
	ext = ProtoField.bytes("vuproxy.ext", "Extension"),
	ext_type = ProtoField.uint16("vuproxy.ext.type", "Type"),
	ext_len = ProtoField.uint16("vuproxy.ext.len", "Length"),
	mark = ProtoField.string("vuproxy.mark", "Problem",
		base.UNICODE),
	declared = ProtoField.bool("vuproxy.declared", "Declared state"),
	declared_time = ProtoField.absolute_time("vuproxy.declared.time",
		"Crossed at", base.UTC),
	channel = ProtoField.string("vuproxy.channel", "Channel"),
	from = ProtoField.string("vuproxy.from", "From"),
	direction = ProtoField.string("vuproxy.direction", "Direction"),
}
local pe = {
	version = ProtoExpert.new("vuproxy.version.unsupported",
		"Pseudo-header version not supported",
		expert.group.UNDECODED, expert.severity.WARN),
	hdr_len = ProtoExpert.new("vuproxy.hdr_len.bad",
		"Pseudo-header length does not fit its fds and rule name",
		expert.group.MALFORMED, expert.severity.ERROR),
	mark = ProtoExpert.new("vuproxy.mark.relayed",
		"vuproxy relayed what the receiver judges",
		expert.group.PROTOCOL, expert.severity.WARN),
	empty = ProtoExpert.new("vuproxy.empty",
		"No message after the pseudo-header",
		expert.group.MALFORMED, expert.severity.ERROR),
}

-- Message fields (vhostuser.*): the header, then one per layout field.
local hf = {
	request = ProtoField.uint32("vhostuser.request", "Request"),
	request_name = ProtoField.string("vhostuser.request_name",
		"Request name"),
	flags = ProtoField.uint32("vhostuser.flags", "Flags", base.HEX),
	version = ProtoField.uint32("vhostuser.flags.version", "Version",
		base.DEC, nil, FLAG_VERSION_MASK),
	reply = ProtoField.bool("vhostuser.flags.reply", "Reply", 32, nil,
		FLAG_REPLY),
	need_reply = ProtoField.bool("vhostuser.flags.need_reply",
		"Need reply", 32, nil, FLAG_NEED_REPLY),
	flags_reserved = ProtoField.uint32("vhostuser.flags.reserved",
		"Reserved", base.HEX, nil, FLAG_RESERVED),
	size = ProtoField.uint32("vhostuser.size", "Size"),
	layout = ProtoField.string("vhostuser.layout", "Payload layout"),
	gate = ProtoField.string("vhostuser.gate", "Protocol feature gate"),
	payload = ProtoField.bytes("vhostuser.payload", "Payload"),
	region = ProtoField.none(MEM_REGION_ABBR, "Region"),
	region_extra = ProtoField.bytes(MEM_REGION_ABBR .. ".extra",
		"Region bytes past the common fields"),
	config_data = ProtoField.bytes(CONFIG_DATA_ABBR, "data"),
	shmem_size = ProtoField.uint64(SHMEM_SIZE_ABBR, "size", base.HEX),
	opaque = ProtoField.bytes(OPAQUE_ABBR, "bytes"),
}
local he = {
	unknown = ProtoExpert.new("vhostuser.request.unknown",
		"Request code not in the catalogue",
		expert.group.UNDECODED, expert.severity.WARN),
	flags = ProtoExpert.new("vhostuser.flags.bad",
		"Bad version or reserved bits set in the flags",
		expert.group.PROTOCOL, expert.severity.WARN),
	cut = ProtoExpert.new("vhostuser.cut",
		"Message cut short in the trace",
		expert.group.MALFORMED, expert.severity.WARN),
	trailing = ProtoExpert.new("vhostuser.trailing",
		"Bytes after the message",
		expert.group.MALFORMED, expert.severity.WARN),
	size = ProtoExpert.new("vhostuser.size.bad",
		"Payload size outside the catalogue's bounds",
		expert.group.PROTOCOL, expert.severity.WARN),
	fds = ProtoExpert.new("vhostuser.fds.bad",
		"Number of fds not as the catalogue says",
		expert.group.PROTOCOL, expert.severity.WARN),
}

-- Payload fields: lf[layout][i] is the ProtoField of LAYOUT[layout][i],
-- region_f[i] the one of MEM_REGION[i].  Bit-fields get a mask, so
-- Wireshark draws the bits; feature words get a string field ABBR.bit,
-- added once per bit that is set.
local lf, region_f, bitf = {}, {}, {}

local function make_field(f)
	local mask = nil
	if f.bits > 0 then
		mask = (2 ^ f.bits - 1) * 2 ^ f.shift
	end
	if f.fmt == "mac" then
		return ProtoField.ether(f.abbr, f.name)
	elseif f.fmt == "uuid" then
		return ProtoField.guid(f.abbr, f.name)
	elseif f.fmt == "bool" then
		if mask then
			return ProtoField.bool(f.abbr, f.name, f.size * 8, nil,
				mask)
		end
		return ProtoField.bool(f.abbr, f.name, base.NONE)
	end
	local b = f.fmt == "dec" and base.DEC or base.HEX
	local ctor = ({ProtoField.uint8, ProtoField.uint16, nil,
		ProtoField.uint32, nil, nil, nil, ProtoField.uint64})[f.size]
	return ctor(f.abbr, f.name, b, nil, mask)
end

local all = {}
for _, field in pairs(pf) do all[#all + 1] = field end
vuproxy.fields = all
vuproxy.experts = {pe.version, pe.hdr_len, pe.mark, pe.empty}

all = {}
for _, field in pairs(hf) do all[#all + 1] = field end
for lname, fields in pairs(LAYOUT) do
	lf[lname] = {}
	for i, f in ipairs(fields) do
		lf[lname][i] = make_field(f)
		all[#all + 1] = lf[lname][i]
		if BIT_NAMES[f.fmt] then
			bitf[f.abbr] = ProtoField.string(f.abbr .. ".bit",
				f.name .. " bit")
			all[#all + 1] = bitf[f.abbr]
		end
	end
end
for i, f in ipairs(MEM_REGION) do
	region_f[i] = make_field(f)
	all[#all + 1] = region_f[i]
end
vhostuser.fields = all
vhostuser.experts = {he.unknown, he.flags, he.cut, he.trailing, he.size,
	he.fds}

-- vhost-user numbers are in the byte order of the machine that wrote the
-- trace (the pcapng section's order, which Lua cannot see): little-endian
-- unless the flags only make sense big-endian.
local LE = true

local function add_num(tree, field, range)
	if LE then
		return tree:add_le(field, range)
	end
	return tree:add(field, range)
end

-- An unsigned integer of 1 to 4 bytes.
local function u32(range)
	return LE and range:le_uint() or range:uint()
end

local function u64(range)
	return LE and range:le_uint64() or range:uint64()
end

local function hex64(v)
	local s = v:tohex():gsub("^0+", "")
	return "0x" .. (s == "" and "0" or s)
end

-- A field's value: a number, or a UInt64 for whole 8-byte integers.
local function field_value(range, f)
	if f.fmt == "mac" or f.fmt == "uuid" then
		local t = {}
		for i = 0, f.size - 1 do
			t[#t + 1] = string.format("%02x", range(i, 1):uint())
		end
		if f.fmt == "mac" then
			return table.concat(t, ":")
		end
		local s = table.concat(t)
		return string.format("%s-%s-%s-%s-%s", s:sub(1, 8),
			s:sub(9, 12), s:sub(13, 16), s:sub(17, 20), s:sub(21))
	end
	if f.size == 8 then
		local v = u64(range)
		if f.bits > 0 then
			v = v:rshift(f.shift):band(2 ^ f.bits - 1):tonumber()
		end
		return v
	end
	local v = u32(range)
	if f.bits > 0 then
		v = math.floor(v / 2 ^ f.shift) % 2 ^ f.bits
	end
	return v
end

local function show_value(v, fmt)
	if type(v) == "string" then
		return v
	elseif type(v) == "number" then
		if fmt == "dec" or fmt == "bool" then
			return string.format("%d", v)
		end
		return string.format("0x%x", v)
	elseif fmt == "dec" or fmt == "bool" then
		return tostring(v)
	end
	return hex64(v)
end

-- Add the fields of a field table at `base` (payload offset) that lie
-- within the psize payload bytes; words of "name=value" go to `words`.
local function add_fields(tree, tvb, fields, protofields, base, psize,
	words)
	for i, f in ipairs(fields) do
		if f.off + f.size <= psize then
			local range = tvb(HDR_SIZE + base + f.off, f.size)
			local item
			if f.fmt == "mac" or f.fmt == "uuid" then
				item = tree:add(protofields[i], range)
			else
				item = add_num(tree, protofields[i], range)
			end
			local v = field_value(range, f)
			local word = f.name .. "=" .. show_value(v, f.fmt)
			if f.fmt == "bool" then
				word = v ~= 0 and f.name or nil
			end
			local names = BIT_NAMES[f.fmt]
			if names then
				local lo, hi = v, 0
				if type(v) ~= "number" then
					lo, hi = v:lower(), v:higher()
				end
				local set = {}
				for b = 0, f.size * 8 - 1 do
					local w = b < 32 and lo or hi
					if bit32.extract(w, b % 32) == 1 then
						local n = names[b] or
							("bit" .. b)
						item:add(bitf[f.abbr], range, n):
							set_text(string.format(
							"bit %d: %s", b, n))
						set[#set + 1] = n
					end
				end
				word = word .. " <" .. table.concat(set, "|") ..
					">"
			end
			words[#words + 1] = word
		end
	end
end

-- Up to 16 bytes in hex, for the Info column.
local function short_hex(range)
	if range:len() > 16 then
		return range(0, 16):bytes():tohex(true) .. "..."
	end
	return range:bytes():tohex(true)
end

-- The variable parts after a layout's fixed fields.
local function add_variable(tree, tvb, lname, psize, xen, words)
	if lname == L_MEM_TABLE then
		local n = psize >= 4 and u32(tvb(HDR_SIZE, 4)) or 0
		local rsz = xen and MEM_REGION_SIZE_XEN or MEM_REGION_SIZE
		local i = 0
		while i < n and 8 + (i + 1) * rsz <= psize do
			local off = 8 + i * rsz
			local rt = tree:add(hf.region, tvb(HDR_SIZE + off, rsz))
			rt:append_text(" " .. i)
			local rw = {}
			add_fields(rt, tvb, MEM_REGION, region_f, off,
				psize, rw)
			if rsz > MEM_REGION_SIZE then
				rt:add(hf.region_extra,
					tvb(HDR_SIZE + off + MEM_REGION_SIZE,
						rsz - MEM_REGION_SIZE))
			end
			rt:append_text(": " .. table.concat(rw, " "))
			words[#words + 1] = "[" .. table.concat(rw, " ") .. "]"
			i = i + 1
		end
	elseif lname == L_CONFIG then
		if psize > CONFIG_DATA_OFF then
			local r = tvb(HDR_SIZE + CONFIG_DATA_OFF,
				psize - CONFIG_DATA_OFF)
			tree:add(hf.config_data, r)
			words[#words + 1] = "data=" .. short_hex(r)
		end
	elseif lname == L_SHMEM_CONFIG then
		local n = psize >= 4 and u32(tvb(HDR_SIZE, 4)) or 0
		local sizes = {}
		local i = 0
		while i < n and 8 + 8 * (i + 1) <= psize do
			local r = tvb(HDR_SIZE + 8 + 8 * i, 8)
			add_num(tree, hf.shmem_size, r)
			sizes[#sizes + 1] = hex64(u64(r))
			i = i + 1
		end
		words[#words + 1] = "sizes=" .. table.concat(sizes, ",")
	elseif lname == L_OPAQUE then
		if psize > 0 then
			local r = tvb(HDR_SIZE, psize)
			tree:add(hf.opaque, r)
			words[#words + 1] = "bytes=" .. short_hex(r)
		end
	end
end

-- The layout of a payload: the catalogue's request or reply layout (an
-- answer of at most 8 bytes to a postcopy-capable request is an ack, and
-- so is QEMU's 8-byte ADD_MEM_REG after the back-end's postcopy echo),
-- and the packed-ring variant of vring_base once RING_PACKED is
-- negotiated.
local function msg_layout(row, is_reply, psize, neg)
	if not row then
		return L_OPAQUE
	end
	if is_reply and row.reply == "postcopy" and psize <= 8 then
		return L_ACK
	end
	if not is_reply and row.req == L_MEM_REG and
			row.reply == "postcopy" and psize == 8 then
		return L_ACK
	end
	local l = is_reply and row.rep or row.req
	if l == L_VRING_BASE and neg.packed then
		l = L_VRING_BASE_PACKED
	end
	return l
end

-- How many fds a message of this rule carries: min, max (nil: any).
local function fds_wanted(rule, tvb, psize)
	if rule == "none" then
		return 0, 0
	elseif rule == "one" then
		return 1, 1
	elseif rule == "optional" then
		return 0, 1
	elseif rule == "vring" then
		local nofd = psize >= 8 and
			bit32.extract(u32(tvb(HDR_SIZE, 4)), VRING_NOFD_BIT) == 1
		return nofd and 0 or 1, nofd and 0 or 1
	elseif rule == "per_region" then
		local n = psize >= 8 and u32(tvb(HDR_SIZE, 4)) or 0
		return n, n
	end
	return nil, nil
end

-- What a session has negotiated, from SET_FEATURES and
-- SET_PROTOCOL_FEATURES on the first, in-order pass: neg_at[frame] keeps
-- what was in force for each frame, so later random access (the GUI)
-- decodes the same.  A trace that starts after the negotiation (a rotated
-- file) decodes vring_base as split ring and regions as 32 bytes, as
-- `vuproxy dump` does.
local neg_by_session, neg_at = {}, {}

function vuproxy.init()
	neg_by_session, neg_at = {}, {}
end

local function note(session, chan, code, is_reply, tvb, psize)
	if chan ~= 0 or is_reply or psize < 8 then
		return
	end
	local n = neg_by_session[session]
	local v = u64(tvb(HDR_SIZE, 8))
	if code == REQ_SET_FEATURES then
		n.packed = v:rshift(F_RING_PACKED):band(1):tonumber() == 1
	elseif code == REQ_SET_PROTOCOL_FEATURES then
		n.xen = v:rshift(PF_XEN_MMAP):band(1):tonumber() == 1
	end
end

-- The message of the current frame: ctx comes from the pseudo-header, or
-- is nil when another dissector calls "vhostuser" by name (then the main
-- channel is assumed).
local ctx = nil
local message -- the "vhostuser" dissector handle

local function dissect_message(tvb, pinfo, tree, c)
	local len = tvb:len()
	local root = tree:add(vhostuser, tvb())
	pinfo.cols.protocol:set("VHOST-USER")
	if len < HDR_SIZE then
		root:add_proto_expert_info(he.cut, string.format(
			"Message cut: %d of %d header bytes recorded", len,
			HDR_SIZE))
		return len
	end
	LE = true
	if bit32.band(tvb(4, 4):le_uint(), FLAG_VERSION_MASK) ~=
			FLAG_VERSION and
		bit32.band(tvb(4, 4):uint(), FLAG_VERSION_MASK) ==
			FLAG_VERSION then
		LE = false
	end
	local chan = c and c.chan or 0
	local code, flags, size = u32(tvb(0, 4)), u32(tvb(4, 4)),
		u32(tvb(8, 4))
	local row = REQUEST[chan][code]
	local name = row and row.name or "UNKNOWN"
	local is_reply = bit32.band(flags, FLAG_REPLY) ~= 0
	local psize = math.min(size, len - HDR_SIZE)

	local neg = {}
	if c then
		if not pinfo.visited then
			local n = neg_by_session[c.session] or {}
			neg_by_session[c.session] = n
			neg_at[pinfo.number] = {packed = n.packed, xen = n.xen}
		end
		neg = neg_at[pinfo.number] or {}
	end
	local lname = msg_layout(row, is_reply, psize, neg)

	root:append_text(": " .. name .. (is_reply and " reply" or ""))
	local ri = add_num(root, hf.request, tvb(0, 4))
	ri:append_text(" (" .. name .. ")")
	if row and row.alias then
		ri:append_text(", formerly " .. row.alias)
	end
	if not row then
		ri:add_proto_expert_info(he.unknown, string.format(
			"Request code %d is not in the catalogue for the %s " ..
			"channel", code, CHAN_NAME[chan]))
	end
	root:add(hf.request_name, tvb(0, 4), name):set_generated()
	local fi = add_num(root, hf.flags, tvb(4, 4))
	add_num(fi, hf.version, tvb(4, 4))
	add_num(fi, hf.reply, tvb(4, 4))
	add_num(fi, hf.need_reply, tvb(4, 4))
	add_num(fi, hf.flags_reserved, tvb(4, 4))
	if is_reply then
		fi:append_text(" (reply)")
	elseif bit32.band(flags, FLAG_NEED_REPLY) ~= 0 then
		fi:append_text(" (need_reply)")
	end
	if bit32.band(flags, FLAG_VERSION_MASK) ~= FLAG_VERSION or
		bit32.band(flags, FLAG_RESERVED) ~= 0 then
		fi:add_proto_expert_info(he.flags)
	end
	local si = add_num(root, hf.size, tvb(8, 4))
	if row then
		local min = is_reply and row.rep_min or row.req_min
		local max = is_reply and row.rep_max or row.req_max
		if size < min or size > max then
			si:add_proto_expert_info(he.size, string.format(
				"Payload size %d outside %d..%d for this %s",
				size, min, max, is_reply and "reply" or
				"request"))
		end
		if row.gate then
			root:add(hf.gate, row.gate):set_generated()
		end
	end
	if size > len - HDR_SIZE then
		si:add_proto_expert_info(he.cut, string.format(
			"Message cut: %d of %d payload bytes recorded",
			len - HDR_SIZE, size))
	end
	root:add(hf.layout, lname):set_generated()

	local words = {}
	if psize > 0 then
		local pt = root:add(hf.payload, tvb(HDR_SIZE, psize))
		add_fields(pt, tvb, LAYOUT[lname] or {}, lf[lname] or {}, 0,
			psize, words)
		add_variable(pt, tvb, lname, psize, neg.xen, words)
	end
	if len > HDR_SIZE + size then
		root:add_proto_expert_info(he.trailing, string.format(
			"%d bytes after the %d-byte message",
			len - HDR_SIZE - size, HDR_SIZE + size))
	end
	if row and c then
		-- An ack in place of a request (postcopy) carries no fd.
		local rule = is_reply and row.rep_fds or
			(lname == L_ACK and "none" or row.req_fds)
		local min, max = fds_wanted(rule, tvb, psize)
		if min and (c.nfds < min or c.nfds > max) then
			root:add_proto_expert_info(he.fds, string.format(
				"%d fds; the catalogue wants %s", c.nfds,
				min == max and tostring(min) or
				(min .. " to " .. max)))
		end
	end

	-- Info: the line `vuproxy dump` prints, without the time, the
	-- "(N B, N fds...)" part and the action "pass".
	local info = {}
	if c then
		info[#info + 1] = "s" .. c.session
		if c.declared then
			info[#info + 1] = "[declared]"
		end
		info[#info + 1] = SIDE_NAME[c.from] .. ">" ..
			SIDE_NAME[1 - c.from]
	end
	info[#info + 1] = (chan == 1 and "backend " or "") .. name ..
		(row and "" or ("(" .. code .. ")"))
	if is_reply then
		info[#info + 1] = "reply"
	end
	if bit32.band(flags, FLAG_NEED_REPLY) ~= 0 then
		info[#info + 1] = "need_reply"
	end
	for _, w in ipairs(words) do
		info[#info + 1] = w
	end
	if c and c.action ~= 0 then
		info[#info + 1] = ACTION[c.action] or "unknown"
	end
	if c and c.rule ~= "" then
		info[#info + 1] = "rule=" .. c.rule
	end
	if c and c.as_sent then
		info[#info + 1] = "(as sent)"
	end
	if c and c.mark ~= "" then
		info[#info + 1] = "[problem: " .. c.mark .. "]"
	end
	if c and c.declared then
		info[#info + 1] = "[crossed at " .. c.declared .. "]"
	end
	if size > len - HDR_SIZE then
		info[#info + 1] = string.format(
			"[cut: %d of %d bytes recorded]", len - HDR_SIZE, size)
	end
	pinfo.cols.info:set(table.concat(info, " "))

	if c and not pinfo.visited then
		note(c.session, chan, code, is_reply, tvb, psize)
	end
	return len
end

function vhostuser.dissector(tvb, pinfo, tree)
	local c = ctx
	ctx = nil
	if c and c.frame ~= pinfo.number then
		c = nil
	end
	return dissect_message(tvb, pinfo, tree, c)
end

function vuproxy.dissector(tvb, pinfo, tree)
	local len = tvb:len()
	if len < TRACE_FIXED or tvb(0, 2):string() ~= TRACE_MAGIC then
		return 0
	end
	pinfo.cols.protocol:set("VHOST-USER")
	local version = tvb(2, 1):uint()
	local flags = tvb(3, 1):uint()
	local hl = tvb(4, 2):le_uint()
	local nfds = tvb(7, 1):uint()
	local session = tvb(8, 4):le_uint()
	local rl = tvb(12, 1):uint()
	local chan = bit32.band(flags, TRACE_F_BACKEND_CHAN) ~= 0 and 1 or 0
	local from = bit32.band(flags, TRACE_F_FROM_BACKEND) ~= 0 and 1 or 0

	local t = tree:add(vuproxy, tvb(0, math.min(hl, len)))
	t:add(pf.magic, tvb(0, 2))
	local vi = t:add(pf.version, tvb(2, 1))
	if version ~= TRACE_VERSION then
		vi:add_proto_expert_info(pe.version, string.format(
			"Pseudo-header version %d; this dissector reads " ..
			"version %d (written by a newer vuproxy?)", version,
			TRACE_VERSION))
		pinfo.cols.info:set("vuproxy pseudo-header version " ..
			version)
		return len
	end
	t:append_text(string.format(", session %d, %s channel, %s>%s",
		session, CHAN_NAME[chan], SIDE_NAME[from], SIDE_NAME[1 - from]))
	local fi = t:add(pf.flags, tvb(3, 1))
	fi:add(pf.backend_channel, tvb(3, 1))
	fi:add(pf.from_backend, tvb(3, 1))
	fi:add(pf.as_sent, tvb(3, 1))
	fi:add(pf.flags_reserved, tvb(3, 1))
	local hi = t:add_le(pf.hdr_len, tvb(4, 2))
	local action = tvb(6, 1):uint()
	t:add(pf.action, tvb(6, 1))
	t:add(pf.action_name, tvb(6, 1), ACTION[action] or "unknown"):
		set_generated()
	t:add(pf.nfds, tvb(7, 1))
	t:add_le(pf.session, tvb(8, 4))
	t:add(pf.rule_len, tvb(12, 1))
	t:add(pf.reserved, tvb(13, 3))
	t:add(pf.channel, tvb(3, 1), CHAN_NAME[chan]):set_generated()
	t:add(pf.from, tvb(3, 1), SIDE_NAME[from]):set_generated()
	t:add(pf.direction, tvb(3, 1), SIDE_NAME[from] .. ">" ..
		SIDE_NAME[1 - from]):set_generated()
	local need = TRACE_FIXED + nfds * TRACE_FD_SIZE + rl
	if hl < need or hl > len then
		hi:add_proto_expert_info(pe.hdr_len, string.format(
			"Header length %d does not fit %d fds and a %d-byte " ..
			"rule name in %d bytes", hl, nfds, rl, len))
		return len
	end
	for i = 0, nfds - 1 do
		local off = TRACE_FIXED + i * TRACE_FD_SIZE
		local kind = tvb(off, 1):uint()
		local size = tvb(off + 4, 8):le_uint64()
		local ft = t:add(pf.fd, tvb(off, TRACE_FD_SIZE))
		ft:append_text(string.format(" %d: %s", i,
			FD_KIND[kind] or FD_KIND[0]))
		if size:tonumber() ~= 0 then
			ft:append_text(", " .. tostring(size) .. " bytes")
		end
		ft:add(pf.fd_kind, tvb(off, 1))
		ft:add(pf.fd_kind_name, tvb(off, 1), FD_KIND[kind] or FD_KIND[0]):
			set_generated()
		ft:add(pf.fd_reserved, tvb(off + 1, 3))
		ft:add_le(pf.fd_size, tvb(off + 4, 8))
	end
	local rule = ""
	local roff = TRACE_FIXED + nfds * TRACE_FD_SIZE
	if rl > 0 then
		rule = tvb(roff, rl):string(ENC_UTF_8)
		t:add(pf.rule, tvb(roff, rl), rule)
	end
	-- Extensions: {u16 type, u16 length, value, padding to 4} up to
	-- the header length; types this dissector does not know are shown
	-- as bytes and skipped.
	local eoff = roff + rl + (4 - (roff + rl) % 4) % 4
	if eoff > roff + rl and eoff <= hl then
		t:add(pf.padding, tvb(roff + rl, eoff - roff - rl))
	end
	local mark, declared = "", nil -- declared: when it crossed
	while eoff + TRACE_EXT_HDR <= hl do
		local etype = tvb(eoff, 2):le_uint()
		local elen = tvb(eoff + 2, 2):le_uint()
		if eoff + TRACE_EXT_HDR + elen > hl then
			break
		end
		local whole = TRACE_EXT_HDR + elen + (4 - elen % 4) % 4
		local et = t:add(pf.ext, tvb(eoff, math.min(whole, hl - eoff)))
		et:add_le(pf.ext_type, tvb(eoff, 2))
		et:add_le(pf.ext_len, tvb(eoff + 2, 2))
		if etype == TRACE_EXT_MARK and elen > 0 then
			mark = tvb(eoff + TRACE_EXT_HDR, elen):string(ENC_UTF_8)
			et:add(pf.mark, tvb(eoff + TRACE_EXT_HDR, elen), mark)
			et:add_proto_expert_info(pe.mark, mark)
		elseif etype == TRACE_EXT_DECLARED and elen >= 8 then
			-- Declared state: the set-up restated at the start of a
			-- file, no event; the value is when it first crossed.
			local ns = tvb(eoff + TRACE_EXT_HDR, 8):le_uint64()
			local sec = (ns / 1000000000):tonumber()
			local nsec = (ns % 1000000000):tonumber()
			et:add(pf.declared, tvb(eoff, 2), true):set_generated()
			et:add(pf.declared_time, tvb(eoff + TRACE_EXT_HDR, 8),
				NSTime.new(sec, nsec))
			-- As `vuproxy dump` prints it.
			declared = os.date("!%Y-%m-%dT%H:%M:%S", sec) ..
				string.format(".%06dZ", math.floor(nsec / 1000))
		end
		eoff = eoff + whole
	end

	if hl == len then
		t:add_proto_expert_info(pe.empty)
		return len
	end
	ctx = {
		frame = pinfo.number, session = session, chan = chan, from = from, nfds = nfds,
		action = action, rule = rule, mark = mark, declared = declared,
		as_sent = bit32.band(flags, TRACE_F_AS_SENT) ~= 0,
	}
	return hl + message:call(tvb(hl):tvb(), pinfo, tree)
end

message = Dissector.get("vhostuser")
DissectorTable.get("wtap_encap"):add(wtap_encaps.USER0, vuproxy)

-- The tap's blk records (USER1): one completed virtio-blk request each.
local vuproxy_blk = Proto("vuproxy.blk", "vuproxy virtio-blk tap record")
local bf = {
	magic = ProtoField.string("vuproxy.blk.magic", "Magic"),
	version = ProtoField.uint8("vuproxy.blk.version", "Version"),
	flags = ProtoField.uint8("vuproxy.blk.flags", "Flags", base.HEX),
	status_known = ProtoField.bool("vuproxy.blk.flags.status_known",
		"Status known", 8, nil, BLK_F_STATUS),
	latency_known = ProtoField.bool("vuproxy.blk.flags.latency_known",
		"Latency known", 8, nil, BLK_F_LATENCY),
	flags_reserved = ProtoField.uint8("vuproxy.blk.flags.reserved",
		"Reserved", base.HEX, nil, BLK_F_RESERVED),
	queue = ProtoField.uint16("vuproxy.blk.queue", "Virtqueue"),
	id = ProtoField.uint16("vuproxy.blk.id", "Descriptor id"),
	type = ProtoField.uint32("vuproxy.blk.type", "Type", base.DEC,
		BLK_TYPE),
	type_name = ProtoField.string("vuproxy.blk.type_name", "Type name"),
	len = ProtoField.uint32("vuproxy.blk.len", "Data length"),
	sector = ProtoField.uint64("vuproxy.blk.sector", "Sector"),
	status = ProtoField.uint8("vuproxy.blk.status", "Status", base.DEC,
		BLK_STATUS),
	status_name = ProtoField.string("vuproxy.blk.status_name",
		"Status name"),
	reserved = ProtoField.bytes("vuproxy.blk.reserved", "Reserved"),
	used_len = ProtoField.uint32("vuproxy.blk.used_len", "Used length"),
	latency = ProtoField.uint64("vuproxy.blk.latency", "Latency (ns)"),
	data = ProtoField.bytes("vuproxy.blk.data", "Data"),
}
local bx = {
	bad = ProtoExpert.new("vuproxy.blk.bad",
		"Not a vuproxy blk record",
		expert.group.MALFORMED, expert.severity.ERROR),
	version = ProtoExpert.new("vuproxy.blk.version.unsupported",
		"blk record version not supported",
		expert.group.UNDECODED, expert.severity.WARN),
	failed = ProtoExpert.new("vuproxy.blk.failed",
		"Request failed",
		expert.group.RESPONSE_CODE, expert.severity.NOTE),
}
all = {}
for _, field in pairs(bf) do all[#all + 1] = field end
vuproxy_blk.fields = all
vuproxy_blk.experts = {bx.bad, bx.version, bx.failed}

-- The session, from the interface name "s<session> blk".
local f_ifname = Field.new("frame.interface_name")

function vuproxy_blk.dissector(tvb, pinfo, tree)
	local len = tvb:len()
	pinfo.cols.protocol:set("VUPROXY-BLK")
	local t = tree:add(vuproxy_blk, tvb())
	if len < 3 or tvb(0, 2):string() ~= BLK_MAGIC then
		t:add_proto_expert_info(bx.bad)
		pinfo.cols.info:set("not a vuproxy blk record")
		return len
	end
	t:add(bf.magic, tvb(0, 2))
	local version = tvb(2, 1):uint()
	local vi = t:add(bf.version, tvb(2, 1))
	if version ~= BLK_VERSION or len < BLK_REC_SIZE then
		vi:add_proto_expert_info(bx.version, string.format(
			"blk record version %d in %d bytes; this dissector " ..
			"reads version %d of %d bytes", version, len,
			BLK_VERSION, BLK_REC_SIZE))
		pinfo.cols.info:set("vuproxy blk record version " .. version)
		return len
	end
	local flags = tvb(3, 1):uint()
	local fi = t:add(bf.flags, tvb(3, 1))
	fi:add(bf.status_known, tvb(3, 1))
	fi:add(bf.latency_known, tvb(3, 1))
	fi:add(bf.flags_reserved, tvb(3, 1))
	t:add_le(bf.queue, tvb(4, 2))
	t:add_le(bf.id, tvb(6, 2))
	local typ = tvb(8, 4):le_uint()
	local tname = BLK_TYPE[typ] or ("type " .. typ)
	t:add_le(bf.type, tvb(8, 4))
	t:add(bf.type_name, tvb(8, 4), tname):set_generated()
	t:add_le(bf.len, tvb(12, 4))
	t:add_le(bf.sector, tvb(16, 8))
	local words = {"q" .. tvb(4, 2):le_uint(), tname,
		"id=" .. tvb(6, 2):le_uint(),
		"sector=" .. tostring(tvb(16, 8):le_uint64()),
		"len=" .. tvb(12, 4):le_uint()}
	local status = tvb(24, 1):uint()
	if bit32.band(flags, BLK_F_STATUS) ~= 0 then
		local si = t:add(bf.status, tvb(24, 1))
		local sname = BLK_STATUS[status] or tostring(status)
		t:add(bf.status_name, tvb(24, 1), sname):set_generated()
		if status ~= 0 then
			si:add_proto_expert_info(bx.failed, "Request failed: " ..
				sname)
		end
		words[#words + 1] = "status=" .. sname
	else
		words[#words + 1] = "status=?"
	end
	t:add(bf.reserved, tvb(25, 3))
	t:add_le(bf.used_len, tvb(28, 4))
	if bit32.band(flags, BLK_F_LATENCY) ~= 0 then
		t:add_le(bf.latency, tvb(32, 8))
		local ns = tvb(32, 8):le_uint64()
		words[#words + 1] = "latency=" ..
			tostring((ns + 500) / 1000) .. "us"
	else
		words[#words + 1] = "latency=?"
	end
	if len > BLK_REC_SIZE then
		t:add(bf.data, tvb(BLK_REC_SIZE, len - BLK_REC_SIZE))
	end
	t:append_text(": " .. table.concat(words, " "))
	local ifname = f_ifname()
	local session = ifname and tostring(ifname.value):match("^(s%d+) ")
	if session then
		table.insert(words, 1, session .. " blk")
	end
	pinfo.cols.info:set(table.concat(words, " "))
	return len
end

DissectorTable.get("wtap_encap"):add(wtap_encaps.USER1, vuproxy_blk)

-- The checker's findings (USER3, the interface "vuproxy findings"): one
-- record per finding, written after the message it is about, naming that
-- message's frame.  Each raises an expert info of the finding's severity,
-- so `tshark -z expert` lists them; the row of CHECK it names adds the
-- title and the spec sentence.
local vuproxy_finding = Proto("vuproxy.finding", "vuproxy finding")
local ff = {
	magic = ProtoField.string("vuproxy.finding.magic", "Magic"),
	version = ProtoField.uint8("vuproxy.finding.version", "Version"),
	severity = ProtoField.uint8("vuproxy.finding.severity", "Severity",
		base.DEC, FINDING_SEVERITY),
	severity_name = ProtoField.string("vuproxy.finding.severity_name",
		"Severity name"),
	session = ProtoField.uint32("vuproxy.finding.session", "Session"),
	frame = ProtoField.framenum("vuproxy.finding.frame", "About frame",
		base.NONE),
	frame_none = ProtoField.uint64("vuproxy.finding.frame_none",
		"About frame (0: not in this file)"),
	request = ProtoField.uint32("vuproxy.finding.request", "Request"),
	request_name = ProtoField.string("vuproxy.finding.request_name",
		"Request name"),
	flags = ProtoField.uint8("vuproxy.finding.flags", "Flags", base.HEX),
	backend_channel = ProtoField.bool(
		"vuproxy.finding.flags.backend_channel", "Back-end channel", 8,
		nil, TRACE_F_BACKEND_CHAN),
	from_backend = ProtoField.bool("vuproxy.finding.flags.from_backend",
		"From the back-end", 8, nil, TRACE_F_FROM_BACKEND),
	channel = ProtoField.string("vuproxy.finding.channel", "Channel"),
	from = ProtoField.string("vuproxy.finding.from", "From"),
	id = ProtoField.string("vuproxy.finding.id", "Check"),
	title = ProtoField.string("vuproxy.finding.title", "Title"),
	kind = ProtoField.string("vuproxy.finding.kind", "Kind"),
	rule = ProtoField.string("vuproxy.finding.rule", "Caused by rule",
		base.UNICODE),
	message = ProtoField.string("vuproxy.finding.message", "Message",
		base.UNICODE),
	section = ProtoField.string("vuproxy.finding.section",
		"Spec section (vhost-user.rst)"),
	quote = ProtoField.string("vuproxy.finding.quote", "Spec sentence"),
	lengths = ProtoField.bytes("vuproxy.finding.lengths",
		"Lengths and reserved"),
}
local fx = {
	error = ProtoExpert.new("vuproxy.finding.error", "Finding (error)",
		expert.group.PROTOCOL, expert.severity.ERROR),
	warning = ProtoExpert.new("vuproxy.finding.warning",
		"Finding (warning)",
		expert.group.PROTOCOL, expert.severity.WARN),
	info = ProtoExpert.new("vuproxy.finding.info", "Finding (info)",
		expert.group.PROTOCOL, expert.severity.NOTE),
	version = ProtoExpert.new("vuproxy.finding.version.unsupported",
		"Finding record version not supported",
		expert.group.UNDECODED, expert.severity.WARN),
	bad = ProtoExpert.new("vuproxy.finding.bad",
		"Finding record cut or malformed",
		expert.group.MALFORMED, expert.severity.ERROR),
}
all = {}
for _, field in pairs(ff) do all[#all + 1] = field end
vuproxy_finding.fields = all
vuproxy_finding.experts = {fx.error, fx.warning, fx.info, fx.version, fx.bad}

function vuproxy_finding.dissector(tvb, pinfo, tree)
	local len = tvb:len()
	-- Not a finding (another tool's USER3): left to Wireshark's data.
	if len < 3 or tvb(0, 2):string() ~= FINDING_MAGIC then
		return 0
	end
	pinfo.cols.protocol:set("VUPROXY")
	local t = tree:add(vuproxy_finding, tvb())
	t:add(ff.magic, tvb(0, 2))
	local version = tvb(2, 1):uint()
	local vi = t:add(ff.version, tvb(2, 1))
	if version ~= FINDING_VERSION then
		vi:add_proto_expert_info(fx.version, string.format(
			"Finding record version %d; this dissector reads " ..
			"version %d (written by a newer vuproxy?)", version,
			FINDING_VERSION))
		pinfo.cols.info:set("vuproxy finding record version " .. version)
		return len
	end
	local idl = len >= FINDING_FIXED and tvb(21, 1):uint() or 0
	local rl = len >= FINDING_FIXED and tvb(22, 1):uint() or 0
	local ml = len >= FINDING_FIXED and tvb(24, 2):le_uint() or 0
	if len < FINDING_FIXED + idl + rl + ml then
		t:add_proto_expert_info(fx.bad, string.format(
			"Finding record of %d bytes; its lengths need %d", len,
			math.max(FINDING_FIXED, FINDING_FIXED + idl + rl + ml)))
		pinfo.cols.info:set("vuproxy finding cut short")
		return len
	end
	local sev = tvb(3, 1):uint()
	local sname = FINDING_SEVERITY[sev] or ("severity " .. sev)
	local session = tvb(4, 4):le_uint()
	local about = tvb(8, 8):le_uint64()
	local code = tvb(16, 4):le_uint()
	local flags = tvb(20, 1):uint()
	local chan = bit32.band(flags, TRACE_F_BACKEND_CHAN) ~= 0 and 1 or 0
	local from = bit32.band(flags, TRACE_F_FROM_BACKEND) ~= 0 and 1 or 0
	local row = REQUEST[chan][code]
	local rname = row and row.name or ("UNKNOWN(" .. code .. ")")
	local off = FINDING_FIXED
	local id = tvb(off, idl):string()
	local rule = rl > 0 and tvb(off + idl, rl):string(ENC_UTF_8) or ""
	local msg = ml > 0 and tvb(off + idl + rl, ml):string(ENC_UTF_8) or ""
	local check = CHECK[id]

	local si = t:add(ff.severity, tvb(3, 1))
	t:add(ff.severity_name, tvb(3, 1), sname):set_generated()
	t:add(ff.id, tvb(off, idl))
	if check then
		t:add(ff.title, tvb(off, idl), check.title):set_generated()
		t:add(ff.kind, tvb(off, idl), check.kind):set_generated()
	end
	t:add_le(ff.session, tvb(4, 4))
	-- Frame numbers are 32-bit in Wireshark; 0 names no frame here.
	if about:tonumber() ~= 0 and about:tonumber() < 2 ^ 32 then
		t:add(ff.frame, tvb(8, 8), about:tonumber())
	else
		t:add_le(ff.frame_none, tvb(8, 8))
	end
	t:add_le(ff.request, tvb(16, 4)):append_text(" (" .. rname .. ")")
	t:add(ff.request_name, tvb(16, 4), rname):set_generated()
	local fi = t:add(ff.flags, tvb(20, 1))
	fi:add(ff.backend_channel, tvb(20, 1))
	fi:add(ff.from_backend, tvb(20, 1))
	t:add(ff.channel, tvb(20, 1), CHAN_NAME[chan]):set_generated()
	t:add(ff.from, tvb(20, 1), SIDE_NAME[from]):set_generated()
	t:add(ff.lengths, tvb(21, 7))
	if rl > 0 then
		t:add(ff.rule, tvb(off + idl, rl), rule)
	end
	local mi = t:add(ff.message, tvb(off + idl + rl, ml), msg)
	if check then
		t:add(ff.section, tvb(off, idl), check.section):set_generated()
		t:add(ff.quote, tvb(off, idl), check.quote):set_generated()
	end
	local ex = sev == 2 and fx.error or sev == 1 and fx.warning or fx.info
	mi:add_proto_expert_info(ex, id .. ": " .. msg)

	-- Info: the line `vuproxy dump` prints, without the time.
	local where = about:tonumber() ~= 0 and
		("about frame " .. tostring(about)) or "about no frame of this file"
	local info = string.format("s%d finding %s %s %s %s%s: %s", session,
		sname, id, where, chan == 1 and "backend " or "", rname, msg)
	if rule ~= "" then
		info = info .. " rule=" .. rule
	end
	t:append_text(string.format(": %s %s", sname, id))
	pinfo.cols.info:set(info)
	return len
end

DissectorTable.get("wtap_encap"):add(wtap_encaps.USER3, vuproxy_finding)
