package iscsiurl_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/iscsi-go/iscsi/iscsiurl"
)

func ExampleParser() {
	env := map[string]string{iscsiurl.EnvPassword: "from-the-environment"}
	p := iscsiurl.Parser{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}

	u, err := p.Parse("iscsi://alice@[fec0:2727::3]/iqn.2001-04.com.example%3Adisk/1?header_digest=crc32c&auth=sha-256,md5")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Portal(), u.Target, u.LUN, u.User, u.HeaderDigest.Offer(), u.Auth)
	fmt.Println(u)

	_, err = p.Parse("iscsi://alice%hunter22@host/iqn.2001-04.com.example:disk/70000")
	fmt.Println(err, errors.Is(err, iscsiurl.ErrLUN))
	// Output:
	// [fec0:2727::3]:3260 iqn.2001-04.com.example:disk 1 alice CRC32C [SHA-256 MD5]
	// iscsi://alice%<redacted>@[fec0:2727::3]:3260/iqn.2001-04.com.example:disk/1?header_digest=crc32c&auth=sha-256,md5
	// iscsiurl: bad LUN: LUN "70000" is larger than 16383 in "iscsi://alice%<redacted>@host/iqn.2001-04.com.example:disk/70000" true
}

// Credentials from the environment, so that they do not show in ps; the URL
// names an IPv6 portal and a port of its own.
func ExampleParse() {
	for k, v := range map[string]string{
		iscsiurl.EnvUser:           "alice",
		iscsiurl.EnvPassword:       "alice-secret",
		iscsiurl.EnvTargetUser:     "disk",
		iscsiurl.EnvTargetPassword: "disk-secret",
	} {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}

	u, err := iscsiurl.Parse("iscsi://[2001:db8::7]:3261/iqn.2003-01.org.example:disk1/2")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Host, u.Port, u.Portal())
	fmt.Println(u.Target, u.LUN)
	fmt.Println(u.User, u.TargetUser, u.Password) // secrets never print
	fmt.Println(u)

	// The URL wins over the environment: another user, mutual CHAP kept.
	u, _ = iscsiurl.Parse("iscsi://bob%bob-secret@[2001:db8::7]/iqn.2003-01.org.example:disk1/2")
	fmt.Println(u.User, u.TargetUser, u.Port)
	// Output:
	// 2001:db8::7 3261 [2001:db8::7]:3261
	// iqn.2003-01.org.example:disk1 2
	// alice disk <redacted>
	// iscsi://alice%<redacted>@[2001:db8::7]:3261/iqn.2003-01.org.example:disk1/2?target_user=disk&target_password=<redacted>
	// bob disk 3260
}

// A portal URL, for discovery: anything after the host is ignored, as
// libiscsi's iscsi-ls does.
func ExampleParsePortal() {
	u, err := iscsiurl.Parser{}.ParsePortal("iscsi://192.0.2.10/iqn.2003-01.org.example:disk1/0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %q %d\n", u.Portal(), u.Target, u.LUN)
	// Output: 192.0.2.10:3260 "" 0
}
