package pdu

// Serial number arithmetic of RFC 1982 with SERIAL_BITS = 32, as RFC 7143
// §4.2.2.1 requires for CmdSN, StatSN, DataSN and R2TSN. Two numbers exactly
// 2^31 apart are unordered; SNLess and SNGreater both report false for them.

// SNLess reports whether a precedes b.
func SNLess(a, b uint32) bool {
	return a != b && (b-a) < 1<<31
}

// SNGreater reports whether a follows b.
func SNGreater(a, b uint32) bool { return SNLess(b, a) }

// SNLessEq reports whether a precedes or equals b.
func SNLessEq(a, b uint32) bool { return a == b || SNLess(a, b) }

// SNInWindow reports whether sn lies in the closed window [lo, hi].
func SNInWindow(sn, lo, hi uint32) bool {
	return SNLessEq(lo, sn) && SNLessEq(sn, hi)
}

// SNDistance returns b - a as a signed distance, meaningful when the two are
// within 2^31 of each other.
func SNDistance(a, b uint32) int64 { return int64(int32(b - a)) }
