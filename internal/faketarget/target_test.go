package faketarget

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
	"github.com/iscsi-go/iscsi/pdu"
	"github.com/iscsi-go/iscsi/pdu/keys"
	"github.com/iscsi-go/iscsi/scsi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func noViolations(t *testing.T, tg *Target) {
	t.Helper()
	if v := tg.Violations(); len(v) > 0 {
		t.Errorf("violations recorded:\n%s", strings.Join(v, "\n"))
	}
}

func wantViolation(t *testing.T, tg *Target, substr string) {
	t.Helper()
	for _, v := range tg.Violations() {
		if strings.Contains(v, substr) {
			return
		}
	}
	t.Errorf("no violation containing %q; got %q", substr, tg.Violations())
}

func disk(blocks uint64) []LUN {
	return []LUN{{Number: 1, Blocks: blocks}, {Number: 2, Blocks: 1 << 30, Null: true, BlockSize: 4096}}
}

func TestLoginNoneAndLogout(t *testing.T) {
	tg, nc := Pipe(t, Config{Alias: "fake", LUNs: disk(8)})
	i := newIni(t, nc)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	if !i.params.HasTargetPortalGroupTag || i.params.TargetPortalGroupTag != 1 {
		t.Errorf("TargetPortalGroupTag = %d (%v), want 1", i.params.TargetPortalGroupTag, i.params.HasTargetPortalGroupTag)
	}
	if i.lastLogin.TSIH == 0 {
		t.Error("final Login Response without a TSIH")
	}
	if i.params.TargetAlias != "fake" {
		t.Errorf("TargetAlias = %q", i.params.TargetAlias)
	}
	if i.params.TargetMaxRecvDataSegmentLength != 8192 || i.params.FirstBurstLength != 65536 || i.params.MaxBurstLength != 262144 {
		t.Errorf("params = %+v", i.params)
	}
	if st, err := i.do(wireLUN(1), scsi.TestUnitReady(), nil, nil); err != nil || st.status != scsi.StatusGood {
		t.Fatalf("TEST UNIT READY: %v %v", st, err)
	}
	if err := i.logout(); err != nil {
		t.Fatal(err)
	}
	noViolations(t, tg)
}

func TestServeReturnsNilAfterLogout(t *testing.T) {
	tg, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- tg.Serve(b) }()
	i := newIni(t, a)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	if err := i.logout(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func secret(s string) auth.Secret { return auth.NewSecret(s) }

func TestLoginCHAP(t *testing.T) {
	tcfg := func(algs ...chap.Algorithm) *chap.TargetConfig {
		return &chap.TargetConfig{Username: "user", Secret: secret("initiator-secret"),
			TargetUsername: "tgt", TargetSecret: secret("target-secret-x"), Algorithms: algs}
	}
	tests := []struct {
		name    string
		target  *chap.TargetConfig
		allow   bool
		ini     *chap.Config
		wantErr uint16 // login status, 0 for success
	}{
		{"md5", tcfg(), false, &chap.Config{Username: "user", Secret: secret("initiator-secret")}, 0},
		{"sha1", tcfg(), false, &chap.Config{Username: "user", Secret: secret("initiator-secret"), Algorithms: []chap.Algorithm{chap.SHA1}}, 0},
		{"sha256", tcfg(), false, &chap.Config{Username: "user", Secret: secret("initiator-secret"), Algorithms: []chap.Algorithm{chap.SHA256}}, 0},
		{"sha3-256", tcfg(), false, &chap.Config{Username: "user", Secret: secret("initiator-secret"), Algorithms: []chap.Algorithm{chap.SHA3_256}}, 0},
		{"mutual", tcfg(), false, &chap.Config{Username: "user", Secret: secret("initiator-secret"),
			TargetUsername: "tgt", TargetSecret: secret("target-secret-x"), Algorithms: []chap.Algorithm{chap.SHA256, chap.MD5}}, 0},
		{"wrong secret", tcfg(), false, &chap.Config{Username: "user", Secret: secret("wrong-secret!!")}, StatusAuthFailure},
		{"algorithm refused", tcfg(chap.SHA256), false, &chap.Config{Username: "user", Secret: secret("initiator-secret")}, StatusAuthFailure},
		{"required but none offered", tcfg(), false, nil, StatusAuthFailure},
		{"optional and none offered", tcfg(), true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nc := Pipe(t, Config{CHAP: tt.target, AllowNoAuth: tt.allow})
			i := newIni(t, nc)
			err := i.login(loginOpts{chap: tt.ini})
			var le *loginError
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Fatalf("login: %v", err)
			case tt.wantErr != 0 && (!errors.As(err, &le) || le.status != tt.wantErr):
				t.Fatalf("login: %v, want status %#04x", err, tt.wantErr)
			}
		})
	}
}

func TestLoginRefused(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		opts   loginOpts
		status uint16
		pairs  []keys.Pair
	}{
		{"acl", Config{Allow: func(n string) bool { return n == "iqn.x:good" }}, loginOpts{name: "iqn.x:bad"}, StatusAuthorization, nil},
		{"unknown target", Config{}, loginOpts{target: "iqn.x:nope"}, StatusNotFound, nil},
		{"redirect", Config{Redirect: &Redirect{Address: "10.0.0.1:3260,1"}}, loginOpts{}, StatusTargetMovedTemp,
			[]keys.Pair{{Key: "TargetAddress", Value: "10.0.0.1:3260,1"}}},
		{"redirect permanent", Config{Redirect: &Redirect{Permanent: true, Address: "[::1]:3261,2"}}, loginOpts{}, StatusTargetMovedPerm,
			[]keys.Pair{{Key: "TargetAddress", Value: "[::1]:3261,2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, nc := Pipe(t, tt.cfg)
			err := newIni(t, nc).login(tt.opts)
			var le *loginError
			if !errors.As(err, &le) || le.status != tt.status {
				t.Fatalf("login: %v, want status %#04x", err, tt.status)
			}
			if tt.pairs != nil {
				if diff := cmp.Diff(tt.pairs, le.pairs); diff != "" {
					t.Errorf("pairs (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestDigestsNegotiated(t *testing.T) {
	tests := []struct {
		name     string
		prefer   bool
		offer    []string
		wantHD   bool
		wantFail bool
	}{
		{"first of the offer", false, []string{"None", "CRC32C"}, false, false},
		{"crc first", false, []string{"CRC32C", "None"}, true, false},
		{"prefer crc", true, []string{"None", "CRC32C"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, nc := Pipe(t, Config{PreferCRC32C: tt.prefer, LUNs: disk(64)})
			i := newIni(t, nc)
			offer := keys.DefaultOffer()
			offer.HeaderDigest, offer.DataDigest = tt.offer, tt.offer
			if err := i.login(loginOpts{offer: offer, offerSet: true}); err != nil {
				t.Fatal(err)
			}
			if i.params.HeaderDigest != tt.wantHD || i.params.DataDigest != tt.wantHD {
				t.Fatalf("digests = %v/%v, want %v", i.params.HeaderDigest, i.params.DataDigest, tt.wantHD)
			}
			// The digests are really in force on both sides.
			data := bytes.Repeat([]byte("digest!!"), 4096)
			if st, err := i.do(wireLUN(1), scsi.Write10(0, 64, 0), nil, data); err != nil || st.status != 0 {
				t.Fatalf("WRITE: %v %v", st, err)
			}
			got := make([]byte, len(data))
			if st, err := i.do(wireLUN(1), scsi.Read10(0, 64, 0), got, nil); err != nil || st.status != 0 {
				t.Fatalf("READ: %v %v", st, err)
			}
			if !bytes.Equal(got, data) {
				t.Error("data read differs from data written")
			}
			noViolations(t, tg)
		})
	}
}

func TestDiscoveryContinuation(t *testing.T) {
	var entries []DiscoveryEntry
	var want []keys.Pair
	for n := range 6 {
		e := DiscoveryEntry{Name: "iqn.2024-01.test:disk" + string(rune('a'+n)), Addresses: []string{"127.0.0.1:3260,1", "[::1]:3260,1"}}
		entries = append(entries, e)
		want = append(want, keys.Pair{Key: "TargetName", Value: e.Name})
		for _, a := range e.Addresses {
			want = append(want, keys.Pair{Key: "TargetAddress", Value: a})
		}
	}
	for _, seg := range []int{0, 7, 64} {
		t.Run("segment "+string(rune('0'+seg%10)), func(t *testing.T) {
			tg, nc := Pipe(t, Config{Discovery: entries, TextSegmentLength: seg})
			i := newIni(t, nc)
			if err := i.login(loginOpts{discovery: true}); err != nil {
				t.Fatal(err)
			}
			i.itt++
			req := &pdu.TextRequest{Final: true, ITT: i.itt, TTT: pdu.ReservedITT, CmdSN: i.cmdSN, ExpStatSN: i.expSN}
			data := keys.AppendPairs(nil, keys.Pair{Key: "SendTargets", Value: "All"})
			var ra keys.Reassembler
			var text []byte
			pieces := 0
			for {
				m, d, err := i.roundTrip(req, data)
				if err != nil {
					t.Fatal(err)
				}
				rsp, ok := m.(*pdu.TextResponse)
				if !ok {
					t.Fatalf("got %T", m)
				}
				pieces++
				i.cmdSN++
				i.expSN = rsp.StatSN + 1
				if rsp.Continue == rsp.Final {
					t.Fatalf("piece %d: C=%v F=%v", pieces, rsp.Continue, rsp.Final)
				}
				var done bool
				if text, done, err = ra.Add(d, rsp.Continue); err != nil {
					t.Fatal(err)
				}
				if done {
					if rsp.TTT != pdu.ReservedITT {
						t.Errorf("last piece TTT %#x", rsp.TTT)
					}
					break
				}
				req = &pdu.TextRequest{Final: true, ITT: i.itt, TTT: rsp.TTT, CmdSN: i.cmdSN, ExpStatSN: i.expSN}
				data = nil
			}
			got, err := keys.Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("SendTargets (-want +got):\n%s", diff)
			}
			if seg > 0 && pieces < 2 {
				t.Errorf("%d pieces with segments of %d bytes", pieces, seg)
			}
			noViolations(t, tg)
		})
	}
}

func TestDiscoveryDefaultEntry(t *testing.T) {
	tg := Start(t, Config{Name: "iqn.2024-01.test:one"})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{discovery: true}); err != nil {
		t.Fatal(err)
	}
	m, d, err := i.roundTrip(&pdu.TextRequest{Final: true, ITT: 9, TTT: pdu.ReservedITT, CmdSN: i.cmdSN, ExpStatSN: i.expSN},
		keys.AppendPairs(nil, keys.Pair{Key: "SendTargets", Value: "All"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*pdu.TextResponse); !ok {
		t.Fatalf("got %T", m)
	}
	got, _ := keys.Parse(d)
	want := []keys.Pair{{Key: "TargetName", Value: "iqn.2024-01.test:one"}, {Key: "TargetAddress", Value: tg.Addr() + ",1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadWriteRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		offer     func(*keys.Offer)
		blockSize int
		blocks    int
		wantR2T   bool
	}{
		{"defaults immediate+unsolicited", Config{}, nil, 512, 200, true},
		{"4k blocks", Config{}, nil, 4096, 100, true},
		{"InitialR2T=Yes no immediate", Config{InitialR2T: keys.Some(true), ImmediateData: keys.Some(false)}, nil, 512, 300, true},
		{"small bursts", Config{MaxRecvDataSegmentLength: 512, FirstBurstLength: 1024, MaxBurstLength: 4096, MaxOutstandingR2T: 3},
			func(o *keys.Offer) { o.MaxOutstandingR2T = keys.Some[uint32](4) }, 512, 64, true},
		{"all immediate", Config{MaxRecvDataSegmentLength: 65536}, nil, 512, 8, false},
		{"small initiator MRDSL", Config{}, func(o *keys.Offer) {
			o.MaxRecvDataSegmentLength = keys.Some[uint32](4096)
			o.MaxBurstLength = keys.Some[uint32](16384)
			o.FirstBurstLength = keys.Some[uint32](8192)
		}, 512, 128, true},
		{"separate status", Config{SeparateStatus: true}, nil, 512, 33, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.LUNs = []LUN{{Number: 3, BlockSize: tt.blockSize, Blocks: 1024}}
			tg := Start(t, cfg)
			i := dialIni(t, tg)
			offer := keys.DefaultOffer()
			if tt.offer != nil {
				tt.offer(&offer)
			}
			if err := i.login(loginOpts{offer: offer, offerSet: true}); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, uint64(tt.blocks)))
			data := make([]byte, tt.blocks*tt.blockSize)
			for k := range data {
				data[k] = byte(rng.Uint32())
			}
			st, err := i.do(wireLUN(3), scsi.Write16(5, uint32(tt.blocks), 0), nil, data)
			if err != nil || st.status != scsi.StatusGood {
				t.Fatalf("WRITE: %+v %v", st, err)
			}
			if tt.wantR2T != (i.r2ts > 0) {
				t.Errorf("%d R2Ts received", i.r2ts)
			}
			off := 5 * tt.blockSize
			if !bytes.Equal(tg.LUNData(3)[off:off+len(data)], data) {
				t.Error("LUN content differs from the data written")
			}
			got := make([]byte, len(data))
			st, err = i.do(wireLUN(3), scsi.Read10(5, uint16(tt.blocks), 0), got, nil)
			if err != nil || st.status != scsi.StatusGood {
				t.Fatalf("READ: %+v %v", st, err)
			}
			if !bytes.Equal(got, data) {
				t.Error("data read differs from data written")
			}
			if err := i.logout(); err != nil {
				t.Fatal(err)
			}
			noViolations(t, tg)
		})
	}
}

func TestR2TBursts(t *testing.T) {
	var r2ts []pdu.R2T
	tg := Start(t, Config{LUNs: disk(1024), MaxRecvDataSegmentLength: 1024, FirstBurstLength: 2048, MaxBurstLength: 4096,
		InitialR2T: keys.Some(true)})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	i.c.Trace = func(sent bool, h *pdu.BHS) {
		if !sent && h.Opcode() == pdu.OpR2T {
			var r pdu.R2T
			_ = r.Decode(h)
			r2ts = append(r2ts, r)
		}
	}
	data := make([]byte, 20*512) // 2048 immediate, then 8192 in R2Ts of 4096
	if st, err := i.do(wireLUN(1), scsi.Write10(0, 20, 0), nil, data); err != nil || st.status != 0 {
		t.Fatalf("WRITE: %+v %v", st, err)
	}
	var got [][3]uint32
	for _, r := range r2ts {
		got = append(got, [3]uint32{r.R2TSN, r.BufferOffset, r.DesiredDataTransferLength})
	}
	want := [][3]uint32{{0, 1024, 4096}, {1, 5120, 4096}, {2, 9216, 1024}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("R2Ts (R2TSN, offset, length) (-want +got):\n%s", diff)
	}
	noViolations(t, tg)
}

func TestViolations(t *testing.T) {
	tests := []struct {
		name string
		bug  func(i *ini)
		want string
	}{
		{"DataSN not restarting", func(i *ini) { i.bugDataSN = true }, "DataSN 1, want 0"},
		{"F bit missing", func(i *ini) { i.bugNoFinal = true }, "F bit missing"},
		{"CmdSN skipped", func(i *ini) { i.cmdSN += 3 }, "want ExpCmdSN"},
		{"ExpStatSN ahead", func(i *ini) { i.expSN += 10 }, "acknowledges a status not sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := Start(t, Config{LUNs: disk(64), InitialR2T: keys.Some(true), ImmediateData: keys.Some(false)})
			i := dialIni(t, tg)
			if err := i.login(loginOpts{}); err != nil {
				t.Fatal(err)
			}
			tt.bug(i)
			if _, err := i.do(wireLUN(1), scsi.Write10(0, 16, 0), nil, make([]byte, 16*512)); err != nil {
				t.Fatal(err)
			}
			wantViolation(t, tg, tt.want)
		})
	}
}

func TestOversizedDataOut(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(64), MaxRecvDataSegmentLength: 512})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	i.params.TargetMaxRecvDataSegmentLength = 4096 // the bug: ignore the target's declaration
	if st, err := i.do(wireLUN(1), scsi.Write10(0, 16, 0), nil, make([]byte, 16*512)); err != nil || st.status != 0 {
		t.Fatalf("WRITE: %+v %v", st, err)
	}
	wantViolation(t, tg, "exceeds our MaxRecvDataSegmentLength 512")
}

func TestSCSIErrors(t *testing.T) {
	tests := []struct {
		name string
		lun  uint64
		cdb  scsi.CDB
		out  bool
		key  scsi.SenseKey
		asc  scsi.ASC
	}{
		{"read beyond the end", wireLUN(1), scsi.Read10(60, 8, 0), false, scsi.SenseIllegalRequest, scsi.ASCLBAOutOfRange},
		{"write beyond the end", wireLUN(1), scsi.Write16(64, 1, 0), true, scsi.SenseIllegalRequest, scsi.ASCLBAOutOfRange},
		{"unknown opcode", wireLUN(1), scsi.ModeSense6(false, 0, 0x3f, 0, 255), false, scsi.SenseIllegalRequest, scsi.ASCInvalidOpcode},
		{"no such LUN", wireLUN(9), scsi.Read10(0, 1, 0), false, scsi.SenseIllegalRequest, scsi.ASCLUNotSupported},
	}
	tg := Start(t, Config{LUNs: disk(64)})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in, out []byte
			if tt.out {
				out = make([]byte, 512)
			} else {
				in = make([]byte, 4096)
			}
			st, err := i.do(tt.lun, tt.cdb, in, out)
			if err != nil {
				t.Fatal(err)
			}
			if st.status != scsi.StatusCheckCondition {
				t.Fatalf("status %v", st.status)
			}
			s, err := i.senseOf()
			if err != nil {
				t.Fatal(err)
			}
			if s.Key != tt.key || s.ASC != tt.asc || s.ResponseCode != 0x70 {
				t.Errorf("sense %v, want %v %v", &s, tt.key, tt.asc)
			}
		})
	}
	noViolations(t, tg)
}

func TestUnitAttentionOnce(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(64), UnitAttention: true})
	for range 2 { // each session sees it once per LUN
		i := dialIni(t, tg)
		if err := i.login(loginOpts{}); err != nil {
			t.Fatal(err)
		}
		inq := make([]byte, 36)
		if st, _ := i.do(wireLUN(1), scsi.Inquiry(36), inq, nil); st.status != 0 {
			t.Fatalf("INQUIRY: %v", st.status)
		}
		for k, want := range []scsi.Status{scsi.StatusCheckCondition, scsi.StatusGood} {
			st, err := i.do(wireLUN(1), scsi.TestUnitReady(), nil, nil)
			if err != nil || st.status != want {
				t.Fatalf("TUR %d: %v %v, want %v", k, st.status, err, want)
			}
			if k == 0 {
				if s, _ := i.senseOf(); s.Key != scsi.SenseUnitAttention || s.ASC != scsi.ASCPowerOnReset {
					t.Errorf("sense %v", &s)
				}
			}
		}
		if err := i.logout(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInquiryAndCapacity(t *testing.T) {
	tg := Start(t, Config{LUNs: disk(100), MaxTransferLength: 2048})
	i := dialIni(t, tg)
	if err := i.login(loginOpts{}); err != nil {
		t.Fatal(err)
	}
	get := func(lun uint64, cdb scsi.CDB, n int) ([]byte, status) {
		t.Helper()
		b := make([]byte, n)
		st, err := i.do(lun, cdb, b, nil)
		if err != nil || st.status != 0 {
			t.Fatalf("%v: %+v %v", cdb, st, err)
		}
		return b[:n-int(st.residual)], st
	}
	b, _ := get(wireLUN(1), scsi.Inquiry(96), 96)
	inq, err := scsi.ParseStandardInquiry(b)
	if err != nil || inq.DeviceType != scsi.TypeDirectAccess || strings.TrimSpace(inq.Vendor) != "FAKETGT" {
		t.Errorf("INQUIRY: %+v %v", inq, err)
	}
	b, _ = get(wireLUN(1), scsi.InquiryVPD(scsi.VPDSupportedPages, 255), 255)
	sp, err := scsi.ParseSupportedPages(b)
	if err != nil || len(sp.Pages) != 4 {
		t.Errorf("supported pages: %+v %v", sp, err)
	}
	b, _ = get(wireLUN(1), scsi.InquiryVPD(scsi.VPDBlockLimits, 255), 255)
	bl, err := scsi.ParseBlockLimits(b)
	if err != nil || bl.MaxTransferLength != 2048 {
		t.Errorf("block limits: %+v %v", bl, err)
	}
	b, _ = get(wireLUN(1), scsi.InquiryVPD(scsi.VPDDeviceIdentification, 255), 255)
	if di, err := scsi.ParseDeviceIdentification(b); err != nil || len(di.Designators) != 2 {
		t.Errorf("device identification: %+v %v", di, err)
	}
	b, _ = get(wireLUN(1), scsi.InquiryVPD(scsi.VPDUnitSerialNumber, 255), 255)
	if sn, err := scsi.ParseUnitSerialNumber(b); err != nil || sn.Serial != "beaf0001" {
		t.Errorf("serial: %+v %v", sn, err)
	}
	b, _ = get(wireLUN(1), scsi.ReadCapacity10(), 8)
	if c, err := scsi.ParseReadCapacity10(b); err != nil || c.ReturnedLBA != 99 || c.BlockLength != 512 {
		t.Errorf("READ CAPACITY(10): %+v %v", c, err)
	}
	b, _ = get(wireLUN(2), scsi.ReadCapacity16(32), 32)
	if c, err := scsi.ParseReadCapacity16(b); err != nil || c.ReturnedLBA != 1<<30-1 || c.BlockLength != 4096 {
		t.Errorf("READ CAPACITY(16): %+v %v", c, err)
	}
	b, _ = get(0, scsi.ReportLUNs(0, 64), 64)
	if rl, err := scsi.ParseReportLUNs(b); err != nil || len(rl.LUNs) != 2 {
		t.Errorf("REPORT LUNS: %+v %v", rl, err)
	}
	// An allocation length below the answer: residual overflow is not
	// reported (INQUIRY truncates), a buffer larger than the answer is.
	_, st := get(wireLUN(1), scsi.Inquiry(36), 100)
	if !st.under || st.residual != 64 {
		t.Errorf("INQUIRY(36) into 100 bytes: %+v", st)
	}
	noViolations(t, tg)
}
