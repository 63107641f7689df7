package chap

import (
	"fmt"
	"io"
	"strings"

	"github.com/iscsi-go/iscsi/auth"

	"github.com/iscsi-go/iscsi/pdu/keys"
)

// maxNameLength bounds CHAP_N: RFC 7143 §6.1 limits a text value to 255 bytes.
const maxNameLength = 255

// Config is the initiator's CHAP configuration.
type Config struct {
	// Username is sent as CHAP_N.
	Username string
	// Secret is the initiator's CHAP secret, shared with the target.
	Secret auth.Secret

	// TargetUsername and TargetSecret, when set, ask for mutual CHAP: we
	// challenge the target and check that it answers as TargetUsername with
	// TargetSecret. Both or neither must be set.
	TargetUsername string
	TargetSecret   auth.Secret

	// Algorithms is the CHAP_A offer, most preferred first. Nil or empty
	// offers MD5 alone, as libiscsi does: tgtd reads CHAP_A=7 as SHA-1
	// (IANA's 7 is SHA-256), so a longer offer it would pick 7 from makes
	// the login fail. RFC 7143 asks initiators to include MD5; this package
	// lets an explicit list leave it out.
	Algorithms []Algorithm

	// Encoding of our CHAP_R and CHAP_C values. Zero is keys.Hex.
	Encoding keys.Encoding

	// Rand is the source of our identifier and challenge. Nil is crypto/rand.
	Rand io.Reader
}

// Mutual reports whether the configuration asks the target to authenticate.
func (c *Config) Mutual() bool { return !c.TargetSecret.IsZero() || c.TargetUsername != "" }

// offer returns the algorithms to offer.
func (c *Config) offer() []Algorithm {
	if len(c.Algorithms) == 0 {
		return []Algorithm{MD5}
	}
	return c.Algorithms
}

// Validate reports what makes the configuration unusable: a missing username
// or secret, half a mutual configuration, an initiator secret equal to the
// target secret (RFC 7143 §9.2.1 requires different secrets in the two
// directions), or an unknown or repeated algorithm. The error wraps
// ErrInvalidConfig and never shows a secret.
func (c *Config) Validate() error {
	if c.Username == "" {
		return configErr("username is empty")
	}
	if err := checkName("username", c.Username); err != nil {
		return err
	}
	if c.Secret.IsZero() {
		return configErr("secret is empty")
	}
	if c.Mutual() {
		if c.TargetUsername == "" {
			return configErr("target secret is set but target username is empty")
		}
		if err := checkName("target username", c.TargetUsername); err != nil {
			return err
		}
		if c.TargetSecret.IsZero() {
			return configErr("target username is set but target secret is empty")
		}
		if c.Secret.Equal(c.TargetSecret) {
			return configErr("initiator and target secrets are equal; mutual CHAP requires different secrets")
		}
	}
	if err := checkAlgorithms(c.Algorithms); err != nil {
		return err
	}
	if c.Encoding != keys.Hex && c.Encoding != keys.Base64 {
		return configErr("unknown encoding " + c.Encoding.String())
	}
	return nil
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chap.Config{Username:%q Secret:%v", c.Username, c.Secret)
	if c.Mutual() {
		fmt.Fprintf(&b, " TargetUsername:%q TargetSecret:%v", c.TargetUsername, c.TargetSecret)
	}
	fmt.Fprintf(&b, " Algorithms:%s}", formatAlgorithms(c.offer()))
	return b.String()
}

// GoString describes the configuration without its secrets, for %#v.
func (c Config) GoString() string { return c.String() }

func configErr(reason string) error {
	return fmt.Errorf("chap: %s: %w", reason, ErrInvalidConfig)
}

func checkName(what, name string) error {
	if len(name) > maxNameLength {
		return configErr(fmt.Sprintf("%s longer than %d bytes", what, maxNameLength))
	}
	if strings.IndexByte(name, 0) >= 0 {
		return configErr(what + " contains a NUL byte")
	}
	return nil
}

func checkAlgorithms(as []Algorithm) error {
	for i, a := range as {
		if !a.Valid() {
			return configErr("unknown algorithm " + a.String())
		}
		for _, b := range as[:i] {
			if a == b {
				return configErr("algorithm " + a.String() + " listed twice")
			}
		}
	}
	return nil
}
