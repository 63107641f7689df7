package iscsiurl

import (
	"net"
	"strconv"
	"strings"

	"github.com/iscsi-go/iscsi/auth"
	"github.com/iscsi-go/iscsi/auth/chap"
)

// DefaultPort is the iSCSI port used when a URL names none.
const DefaultPort = 3260

// MaxLUN is the largest LUN a URL may name: the 14 bits of SAM's single-level
// flat space addressing. LUNs 0..255 also fit peripheral device addressing.
const MaxLUN = 16383

// URL is a parsed iSCSI URL with the credentials it finally resolved to.
//
// The credentials follow libiscsi's all-or-nothing rule: User and Password are
// both set or both empty, and TargetUser/TargetPassword (mutual CHAP) are set
// only when User and Password are.
type URL struct {
	Host   string // host name or IP address; an IPv6 address without brackets, maybe with a %zone
	Port   int    // 1..65535; DefaultPort when the URL gives none
	Target string // target name, %-decoded; "" for a portal URL
	LUN    int    // 0..MaxLUN; 0 for a portal URL

	User           string      // CHAP name of the initiator, or ""
	Password       auth.Secret // the initiator's CHAP secret
	TargetUser     string      // CHAP name the target must answer with (mutual CHAP), or ""
	TargetPassword auth.Secret // the target's CHAP secret

	HeaderDigest Digest           // header_digest argument
	DataDigest   Digest           // data_digest argument
	Auth         []chap.Algorithm // auth argument, in order of preference; nil if not given

	// UnitSerialNumber is libiscsi's force_usn argument: the unit serial
	// number (VPD page 0x80) the LUN must report, so that a reconnect to a
	// different disk behind the same name is noticed. "" if not given.
	UnitSerialNumber string
}

// Portal returns "host:port", with brackets around an IPv6 address, ready for
// net.Dial.
func (u *URL) Portal() string {
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

// String returns the URL in libiscsi's syntax with each password written as
// "<redacted>": "iscsi://alice%<redacted>@host:3260/iqn.x/1". The port is
// always written and the target name %-encoded where needed. Parsing the
// result gives back the same URL except for the passwords. It is meant for
// display and logs, never for handing a password on.
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString("iscsi://")
	if u.User != "" {
		b.WriteString(u.User)
		if !u.Password.IsZero() {
			b.WriteString("%" + redacted)
		}
		b.WriteByte('@')
	}
	b.WriteString(u.Portal())
	if u.Target != "" {
		b.WriteByte('/')
		b.WriteString(escapeTarget(u.Target))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(u.LUN))
	}
	sep := byte('?')
	arg := func(k, v string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	if u.HeaderDigest != DigestDefault {
		arg("header_digest", u.HeaderDigest.String())
	}
	if u.DataDigest != DigestDefault {
		arg("data_digest", u.DataDigest.String())
	}
	if len(u.Auth) > 0 {
		names := make([]string, len(u.Auth))
		for i, a := range u.Auth {
			names[i] = algorithmName(a)
		}
		arg("auth", strings.Join(names, ","))
	}
	if u.TargetUser != "" {
		arg("target_user", u.TargetUser)
	}
	if !u.TargetPassword.IsZero() {
		arg("target_password", redacted)
	}
	if u.UnitSerialNumber != "" {
		arg("force_usn", u.UnitSerialNumber)
	}
	return b.String()
}

// escapeTarget %-encodes every byte of a target name that is not a letter,
// digit, '-', '.', ':' or '_', so that the name reads back unchanged.
func escapeTarget(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isNameByte(c) || c == '_' || ('A' <= c && c <= 'Z') {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(s)+8), s[:i]...)
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	if b == nil {
		return s
	}
	return string(b)
}

// Digest is the header_digest or data_digest choice of a URL.
type Digest uint8

// Digest values. DigestDefault leaves the choice to the session; libiscsi
// offers "None,CRC32C" for headers and "None" for data by default.
const (
	DigestDefault    Digest = iota // not given in the URL
	DigestNone                     // "none": offer None only
	DigestCRC32C                   // "crc32c": offer CRC32C only
	DigestNoneCRC32C               // "none-crc32c": offer None,CRC32C
	DigestCRC32CNone               // "crc32c-none": offer CRC32C,None
)

var digestNames = [...]string{
	DigestDefault:    "",
	DigestNone:       "none",
	DigestCRC32C:     "crc32c",
	DigestNoneCRC32C: "none-crc32c",
	DigestCRC32CNone: "crc32c-none",
}

var digestOffers = [...]string{
	DigestDefault:    "",
	DigestNone:       "None",
	DigestCRC32C:     "CRC32C",
	DigestNoneCRC32C: "None,CRC32C",
	DigestCRC32CNone: "CRC32C,None",
}

// String returns the URL spelling ("none", "crc32c", "none-crc32c",
// "crc32c-none"), "" for DigestDefault.
func (d Digest) String() string {
	if int(d) < len(digestNames) {
		return digestNames[d]
	}
	return "Digest(" + strconv.Itoa(int(d)) + ")"
}

// Offer returns the HeaderDigest/DataDigest key value an initiator offers for
// d ("None", "CRC32C", "None,CRC32C", "CRC32C,None"), or "" for DigestDefault
// and unknown values.
func (d Digest) Offer() string {
	if int(d) < len(digestOffers) {
		return digestOffers[d]
	}
	return ""
}

func parseDigest(v string) (Digest, bool) {
	for d := DigestNone; int(d) < len(digestNames); d++ {
		if strings.EqualFold(v, digestNames[d]) {
			return d, true
		}
	}
	return DigestDefault, false
}

// urlAlgorithms are the auth= argument's spellings, libiscsi's.
var urlAlgorithms = [...]struct {
	name string
	alg  chap.Algorithm
}{{"md5", chap.MD5}, {"sha1", chap.SHA1}, {"sha-256", chap.SHA256}, {"sha3-256", chap.SHA3_256}}

// algorithmName returns the URL spelling of a: "md5", "sha1", "sha-256",
// "sha3-256".
func algorithmName(a chap.Algorithm) string {
	for _, u := range urlAlgorithms {
		if u.alg == a {
			return u.name
		}
	}
	return a.String()
}

func parseAlgorithm(v string) (chap.Algorithm, bool) {
	for _, u := range urlAlgorithms {
		if strings.EqualFold(v, u.name) {
			return u.alg, true
		}
	}
	return 0, false
}
