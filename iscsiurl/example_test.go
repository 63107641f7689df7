package iscsiurl_test

import (
	"errors"
	"fmt"

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
