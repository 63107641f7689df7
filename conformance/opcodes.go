package conformance

import (
	"encoding/binary"

	"github.com/iscsi-go/iscsi/scsi"
	"github.com/iscsi-go/iscsi/session"
)

func init() {
	register("", map[string]func(*T){
		"report_supported_opcodes_simple":      rsocSimple,
		"report_supported_opcodes_one_command": rsocOneCommand,
		"report_supported_opcodes_rctd":        rsocRCTD,
		"report_supported_opcodes_servactv":    rsocServActV,
		"readdefectdata10_simple":              readDefectData10,
		"readdefectdata12_simple":              readDefectData12,
	})
}

// rsocCDB is REPORT SUPPORTED OPERATION CODES with any reporting options.
func rsocCDB(rctd bool, opts byte, op byte, sa uint16, alloc uint32) scsi.CDB {
	b := make([]byte, 12)
	b[0], b[1], b[2], b[3] = 0xa3, 0x0c, opts&7, op
	if rctd {
		b[2] |= 0x80
	}
	binary.BigEndian.PutUint16(b[4:], sa)
	binary.BigEndian.PutUint32(b[6:], alloc)
	return mustCDB(b)
}

func (t *T) rsoc(rctd bool, opts, op byte, sa uint16, alloc int, e expect) reply {
	r, _ := t.run(t.dev.nexus(), "REPORT_SUPPORTED_OPCODES", rsocCDB(rctd, opts, op, sa, uint32(alloc)), session.DirRead, nil, alloc, e)
	return r
}

// rawDescriptor is one command descriptor of the all-commands form.
type rawDescriptor struct {
	op         byte
	sa         uint16
	servactv   bool
	ctdp       bool
	timeoutLen uint16
}

func parseAllCommands(b []byte) ([]rawDescriptor, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint32(b)) + 4
	if n > len(b) {
		n = len(b)
	}
	var out []rawDescriptor
	for i := 4; i+8 <= n; {
		d := rawDescriptor{op: b[i], sa: binary.BigEndian.Uint16(b[i+2:]), servactv: b[i+5]&1 != 0, ctdp: b[i+5]&2 != 0}
		i += 8
		if d.ctdp {
			if i+12 > n {
				break
			}
			d.timeoutLen = binary.BigEndian.Uint16(b[i:])
			i += 12
		}
		out = append(out, d)
	}
	return out, true
}

// SPC-5 6.35: REPORT SUPPORTED OPERATION CODES, all commands.
func rsocSimple(t *T) {
	t.rsoc(false, 0, 0, 0, 1024, good)
}

// SPC-5 6.35.2: each command listed can be asked for alone, with the
// reporting option its SERVACTV says, and its CDB USAGE DATA starts with its
// opcode.
func rsocOneCommand(t *T) {
	r := t.rsoc(false, 0, 0, 0, 65535, good)
	ds, ok := parseAllCommands(r.data)
	if !ok {
		t.Fatalf("REPORT SUPPORTED OPERATION CODES data of %d bytes", len(r.data))
	}
	for _, d := range ds {
		if d.servactv {
			t.rsoc(false, 1, d.op, d.sa, 65535, invalidCDB)
			t.rsoc(false, 2, d.op, d.sa, 65535, good)
		} else {
			t.rsoc(false, 1, d.op, d.sa, 65535, good)
			t.rsoc(false, 2, d.op, d.sa, 65535, invalidCDB)
		}
	}
	for _, d := range ds {
		opt := byte(1)
		if d.servactv {
			opt = 2
		}
		r := t.rsoc(false, opt, d.op, d.sa, 65535, good)
		if len(r.data) < 4 {
			continue
		}
		n := binary.BigEndian.Uint16(r.data[2:])
		if n == 0 {
			t.Errorf("CDB SIZE is 0 for opcode %#02x", d.op)
			continue
		}
		if len(r.data) > 4 && r.data[4] != d.op {
			t.Errorf("CDB USAGE DATA of opcode %#02x starts with %#02x, want the opcode (SPC-5 6.35.3)", d.op, r.data[4])
		}
	}
}

// SPC-5 6.35.2: RCTD adds a command timeouts descriptor (length 0Ah) to
// every command descriptor, and only then.
func rsocRCTD(t *T) {
	r := t.rsoc(false, 0, 0, 0, 65535, good)
	ds, _ := parseAllCommands(r.data)
	for _, d := range ds {
		if d.ctdp {
			t.Errorf("Command descriptor with CTDP set (opcode %#02x) received when RCTD==0", d.op)
		}
	}
	r = t.rsoc(true, 0, 0, 0, 65535, good)
	ds, ok := parseAllCommands(r.data)
	if !ok {
		t.Fatalf("REPORT SUPPORTED OPERATION CODES data of %d bytes", len(r.data))
	}
	for _, d := range ds {
		if !d.ctdp {
			t.Errorf("Command descriptor without CTDP set (opcode %#02x) received when RCTD==1", d.op)
		}
	}
	for _, d := range ds {
		if d.ctdp && d.timeoutLen != 0x0a {
			t.Errorf("Command descriptor with invalid TimeoutDescriptor length %d (opcode %#02x)", d.timeoutLen, d.op)
		}
	}
}

// SPC-5 6.35.2: SERVICE ACTION is 0 when SERVACTV is clear.
func rsocServActV(t *T) {
	r := t.rsoc(false, 0, 0, 0, 65535, good)
	ds, _ := parseAllCommands(r.data)
	for _, d := range ds {
		if !d.servactv && d.sa != 0 {
			t.Errorf("ServiceAction is non-zero (%#04x) for opcode %#02x but SERVACTV is clear", d.sa, d.op)
		}
	}
}

func readDefectData10(t *T) {
	t.run(t.dev.nexus(), "READDEFECTDATA10", scsi.ReadDefectData10(false, false, 0, 32), session.DirRead, nil, 32, good)
}

func readDefectData12(t *T) {
	t.run(t.dev.nexus(), "READDEFECTDATA12", scsi.ReadDefectData12(false, false, 0, 0, 32), session.DirRead, nil, 32, good)
}
