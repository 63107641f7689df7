package scsi

import (
	"encoding/binary"
	"fmt"
)

// Mode page codes (SPC-4, SBC-3) this package decodes or names.
const (
	ModePageReadWriteErrorRecovery = 0x01
	ModePageDisconnectReconnect    = 0x02
	ModePageVerifyErrorRecovery    = 0x07
	ModePageCaching                = 0x08
	ModePageControl                = 0x0a
	ModePagePowerCondition         = 0x1a
	ModePageInformationalExcept    = 0x1c
)

// BlockDescriptor is a direct access device's mode parameter block
// descriptor (SBC-3): the short form (8 bytes: a 32-bit NUMBER OF
// LOGICAL BLOCKS, a 24-bit LOGICAL BLOCK LENGTH) or the long LBA form (16
// bytes: 64-bit count, 32-bit length).
type BlockDescriptor struct {
	Blocks      uint64
	BlockLength uint32
}

// ParseBlockDescriptors decodes the block descriptors of a MODE SENSE
// answer (ModeSense6Data.BlockDescriptors, ModeSense10Data's with its
// LongLBA). A length that is not a whole number of descriptors is an error
// wrapping ErrMalformed.
func ParseBlockDescriptors(b []byte, longLBA bool) ([]BlockDescriptor, error) {
	size := 8
	if longLBA {
		size = 16
	}
	if len(b)%size != 0 {
		return nil, fmt.Errorf("%w: %d bytes of block descriptors, not a multiple of %d", ErrMalformed, len(b), size)
	}
	d := make([]BlockDescriptor, len(b)/size)
	for i := range d {
		p := b[i*size:]
		if longLBA {
			d[i] = BlockDescriptor{Blocks: binary.BigEndian.Uint64(p), BlockLength: binary.BigEndian.Uint32(p[12:])}
		} else {
			d[i] = BlockDescriptor{Blocks: uint64(binary.BigEndian.Uint32(p)), BlockLength: binary.BigEndian.Uint32(p[4:]) & 0xffffff}
		}
	}
	return d, nil
}

func appendBlockDescriptor(dst []byte, d BlockDescriptor, longLBA bool) ([]byte, error) {
	if longLBA {
		dst = binary.BigEndian.AppendUint64(dst, d.Blocks)
		dst = append(dst, 0, 0, 0, 0)
		return binary.BigEndian.AppendUint32(dst, d.BlockLength), nil
	}
	if d.Blocks > 0xffffffff || d.BlockLength > 0xffffff {
		return dst, fmt.Errorf("%w: block descriptor %d blocks of %d bytes needs the long LBA form", ErrFieldRange, d.Blocks, d.BlockLength)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(d.Blocks))
	return binary.BigEndian.AppendUint32(dst, d.BlockLength), nil // byte 4 reserved: BlockLength < 2^24
}

// ModeParameters is the parameter list of MODE SELECT: the header fields
// an initiator sets, block descriptors and pages.
type ModeParameters struct {
	MediumType uint8
	// DeviceSpecific is the DEVICE-SPECIFIC PARAMETER; for a direct
	// access device its WP and DPOFUA bits are ignored by MODE SELECT.
	DeviceSpecific uint8
	// LongLBA selects 16-byte block descriptors (MODE SELECT(10) only).
	LongLBA          bool
	BlockDescriptors []BlockDescriptor
	// Pages are sent with the PS bit cleared, which MODE SELECT
	// reserves.
	Pages []ModePage
}

// AppendModeSelect6 appends the MODE SELECT(6) parameter list of p (SPC-4
// 7.5.5: 4-byte header, MODE DATA LENGTH 0) to dst. A list that does not
// fit the 8-bit lengths of MODE SELECT(6), or LongLBA, is an error wrapping
// ErrFieldRange.
func AppendModeSelect6(dst []byte, p *ModeParameters) ([]byte, error) {
	if p.LongLBA {
		return dst, fmt.Errorf("%w: MODE SELECT(6) has no long LBA block descriptors", ErrFieldRange)
	}
	start := len(dst)
	dst = append(dst, 0, p.MediumType, p.DeviceSpecific, byte(8*len(p.BlockDescriptors)))
	if len(p.BlockDescriptors) > 0xff/8 {
		return dst[:start], fmt.Errorf("%w: %d block descriptors for MODE SELECT(6)", ErrFieldRange, len(p.BlockDescriptors))
	}
	dst, err := appendModeBody(dst, p)
	if err != nil {
		return dst[:start], err
	}
	if n := len(dst) - start; n > 0xff {
		return dst[:start], fmt.Errorf("%w: MODE SELECT(6) parameter list of %d bytes, at most 255", ErrFieldRange, n)
	}
	return dst, nil
}

// AppendModeSelect10 appends the MODE SELECT(10) parameter list of p (SPC-4
// 7.5.5: 8-byte header, MODE DATA LENGTH 0) to dst. A list longer than
// 65535 bytes is an error wrapping ErrFieldRange.
func AppendModeSelect10(dst []byte, p *ModeParameters) ([]byte, error) {
	start := len(dst)
	size := 8
	var long byte
	if p.LongLBA {
		size, long = 16, 1
	}
	bdl := size * len(p.BlockDescriptors)
	if bdl > 0xffff {
		return dst, fmt.Errorf("%w: %d block descriptors for MODE SELECT(10)", ErrFieldRange, len(p.BlockDescriptors))
	}
	dst = append(dst, 0, 0, p.MediumType, p.DeviceSpecific, long, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(bdl))
	dst, err := appendModeBody(dst, p)
	if err != nil {
		return dst[:start], err
	}
	if n := len(dst) - start; n > 0xffff {
		return dst[:start], fmt.Errorf("%w: MODE SELECT(10) parameter list of %d bytes, at most 65535", ErrFieldRange, n)
	}
	return dst, nil
}

func appendModeBody(dst []byte, p *ModeParameters) ([]byte, error) {
	var err error
	for _, d := range p.BlockDescriptors {
		if dst, err = appendBlockDescriptor(dst, d, p.LongLBA); err != nil {
			return dst, err
		}
	}
	for _, pg := range p.Pages {
		pg.PS = false
		if dst, err = pg.AppendTo(dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func wantModePage(p ModePage, code uint8, name string, need int) error {
	if p.Code != code || p.Subpage != 0 {
		return fmt.Errorf("%w: mode page 0x%02x/0x%02x is not the %s page 0x%02x", ErrWrongPage, p.Code, p.Subpage, name, code)
	}
	if len(p.Data) < need {
		return shortErr(name+" mode page", len(p.Data)+2, need+2)
	}
	return nil
}

// CachingPage is the Caching mode page (0x08, SBC-3).
type CachingPage struct {
	PS bool // parameters saveable (as MODE SENSE reported)

	IC   bool // initiator control of segment sizes
	ABPF bool // abort pre-fetch
	CAP  bool // caching analysis permitted
	DISC bool // discontinuity
	SIZE bool // cache segment size in bytes, not segments
	// WCE (write cache enable): the device may report a WRITE done
	// before the data is on the medium.
	WCE bool
	MF  bool // multiplication factor
	// RCD (read cache disable): every READ comes from the medium.
	RCD bool

	DemandReadRetentionPriority   uint8 // 4 bits
	WriteRetentionPriority        uint8 // 4 bits
	DisablePrefetchTransferLength uint16
	MinimumPrefetch               uint16
	MaximumPrefetch               uint16
	MaximumPrefetchCeiling        uint16

	FSW   bool // force sequential write
	LBCSS bool // logical block cache segment size
	DRA   bool // disable read-ahead
	NVDIS bool // non-volatile cache disabled

	NumberOfCacheSegments uint8
	CacheSegmentSize      uint16
}

// cachingPageLen is the PAGE LENGTH of the caching page.
const cachingPageLen = 0x12

// ParseCachingPage decodes the caching page. Only byte 2 (WCE, RCD and the
// other bits) must be present; fields after the end of a short page are
// zero. Another page is an error wrapping ErrWrongPage.
func ParseCachingPage(p ModePage) (CachingPage, error) {
	var c CachingPage
	if err := wantModePage(p, ModePageCaching, "caching", 1); err != nil {
		return c, err
	}
	var d [cachingPageLen]byte
	copy(d[:], p.Data)
	c.PS = p.PS
	c.IC, c.ABPF, c.CAP, c.DISC = d[0]&0x80 != 0, d[0]&0x40 != 0, d[0]&0x20 != 0, d[0]&0x10 != 0
	c.SIZE, c.WCE, c.MF, c.RCD = d[0]&0x08 != 0, d[0]&0x04 != 0, d[0]&0x02 != 0, d[0]&0x01 != 0
	c.DemandReadRetentionPriority = d[1] >> 4
	c.WriteRetentionPriority = d[1] & 0x0f
	c.DisablePrefetchTransferLength = binary.BigEndian.Uint16(d[2:])
	c.MinimumPrefetch = binary.BigEndian.Uint16(d[4:])
	c.MaximumPrefetch = binary.BigEndian.Uint16(d[6:])
	c.MaximumPrefetchCeiling = binary.BigEndian.Uint16(d[8:])
	c.FSW, c.LBCSS, c.DRA, c.NVDIS = d[10]&0x80 != 0, d[10]&0x40 != 0, d[10]&0x20 != 0, d[10]&0x01 != 0
	c.NumberOfCacheSegments = d[11]
	c.CacheSegmentSize = binary.BigEndian.Uint16(d[12:])
	return c, nil
}

// ModePage encodes the caching page (20 bytes with its header) for MODE
// SELECT. Change the fields of a parsed page and send this: a device
// rejects a MODE SELECT that changes what MODE SENSE with PageChangeable
// did not mark changeable.
func (c *CachingPage) ModePage() ModePage {
	d := make([]byte, cachingPageLen)
	d[0] = bit(c.IC, 0x80) | bit(c.ABPF, 0x40) | bit(c.CAP, 0x20) | bit(c.DISC, 0x10) |
		bit(c.SIZE, 0x08) | bit(c.WCE, 0x04) | bit(c.MF, 0x02) | bit(c.RCD, 0x01)
	d[1] = c.DemandReadRetentionPriority<<4 | c.WriteRetentionPriority&0x0f
	binary.BigEndian.PutUint16(d[2:], c.DisablePrefetchTransferLength)
	binary.BigEndian.PutUint16(d[4:], c.MinimumPrefetch)
	binary.BigEndian.PutUint16(d[6:], c.MaximumPrefetch)
	binary.BigEndian.PutUint16(d[8:], c.MaximumPrefetchCeiling)
	d[10] = bit(c.FSW, 0x80) | bit(c.LBCSS, 0x40) | bit(c.DRA, 0x20) | bit(c.NVDIS, 0x01)
	d[11] = c.NumberOfCacheSegments
	binary.BigEndian.PutUint16(d[12:], c.CacheSegmentSize)
	return ModePage{Code: ModePageCaching, Data: d}
}

// ControlPage is the Control mode page (0x0a, SPC-4).
type ControlPage struct {
	PS bool // parameters saveable (as MODE SENSE reported)

	TST     uint8 // task set type (3 bits)
	TMFOnly bool  // TMF_ONLY
	DPICZ   bool  // disable protection information check if protect field zero
	// DSense (D_SENSE): the device returns descriptor-format sense.
	DSense bool
	GLTSD  bool // global logging target save disable
	RLEC   bool // report log exception condition

	QueueAlgorithmModifier uint8 // 4 bits
	NUAR                   bool  // no unit attention on release
	QErr                   uint8 // queue error management (2 bits)

	VS           bool  // vendor specific bit
	RAC          bool  // report a check
	UAIntlckCtrl uint8 // UA_INTLCK_CTRL (2 bits)
	SWP          bool  // software write protect

	ATO          bool  // application tag owner
	TAS          bool  // task aborted status
	ATMPE        bool  // application tag mode page enabled
	RWWP         bool  // reject write without protection
	AutoloadMode uint8 // 3 bits

	BusyTimeoutPeriod        uint16 // in 100 ms units
	ExtendedSelfTestDuration uint16 // seconds
}

const controlPageLen = 0x0a

// ParseControlPage decodes the control page. Only byte 2 must be present;
// fields after the end of a short page are zero. Another page is an error
// wrapping ErrWrongPage.
func ParseControlPage(p ModePage) (ControlPage, error) {
	var c ControlPage
	if err := wantModePage(p, ModePageControl, "control", 1); err != nil {
		return c, err
	}
	var d [controlPageLen]byte
	copy(d[:], p.Data)
	c.PS = p.PS
	c.TST = d[0] >> 5
	c.TMFOnly, c.DPICZ, c.DSense, c.GLTSD, c.RLEC = d[0]&0x10 != 0, d[0]&0x08 != 0, d[0]&0x04 != 0, d[0]&0x02 != 0, d[0]&0x01 != 0
	c.QueueAlgorithmModifier = d[1] >> 4
	c.NUAR = d[1]&0x08 != 0
	c.QErr = d[1] >> 1 & 0x03
	c.VS, c.RAC, c.SWP = d[2]&0x80 != 0, d[2]&0x40 != 0, d[2]&0x08 != 0
	c.UAIntlckCtrl = d[2] >> 4 & 0x03
	c.ATO, c.TAS, c.ATMPE, c.RWWP = d[3]&0x80 != 0, d[3]&0x40 != 0, d[3]&0x20 != 0, d[3]&0x10 != 0
	c.AutoloadMode = d[3] & 0x07
	c.BusyTimeoutPeriod = binary.BigEndian.Uint16(d[6:])
	c.ExtendedSelfTestDuration = binary.BigEndian.Uint16(d[8:])
	return c, nil
}

// ModePage encodes the control page (12 bytes with its header) for MODE
// SELECT.
func (c *ControlPage) ModePage() ModePage {
	d := make([]byte, controlPageLen)
	d[0] = c.TST<<5 | bit(c.TMFOnly, 0x10) | bit(c.DPICZ, 0x08) | bit(c.DSense, 0x04) | bit(c.GLTSD, 0x02) | bit(c.RLEC, 0x01)
	d[1] = c.QueueAlgorithmModifier<<4 | bit(c.NUAR, 0x08) | (c.QErr&0x03)<<1
	d[2] = bit(c.VS, 0x80) | bit(c.RAC, 0x40) | (c.UAIntlckCtrl&0x03)<<4 | bit(c.SWP, 0x08)
	d[3] = bit(c.ATO, 0x80) | bit(c.TAS, 0x40) | bit(c.ATMPE, 0x20) | bit(c.RWWP, 0x10) | c.AutoloadMode&0x07
	binary.BigEndian.PutUint16(d[6:], c.BusyTimeoutPeriod)
	binary.BigEndian.PutUint16(d[8:], c.ExtendedSelfTestDuration)
	return ModePage{Code: ModePageControl, Data: d}
}

func bit(on bool, mask byte) byte {
	if on {
		return mask
	}
	return 0
}
