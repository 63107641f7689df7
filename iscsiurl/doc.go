// Package iscsiurl parses libiscsi's iSCSI URLs and collects CHAP credentials
// from the environment the way libiscsi does, so that command lines and
// scripts written for libiscsi's tools work unchanged.
//
// Two forms exist, as in libiscsi's iscsi_parse_full_url and
// iscsi_parse_portal_url:
//
//	iscsi://[<user>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>[?<args>]   (Parse)
//	iscsi://[<user>[%<password>]@]<host>[:<port>][/][?<args>]                    (ParsePortal)
//
// These are not RFC 3986 URLs (net/url rejects "user%secret"); the rules are
// libiscsi's (lib/init.c):
//
//   - The arguments start at the first '?' and are separated by '&'; each is
//     key=value, the value running to the next '&' (it may hold '=').
//   - User information ends at the first '@' (anywhere before the '?'). The
//     password follows the first '%' in it, or, when there is no '%', the first
//     ':'. Neither the user nor the password is %-decoded, so a password that
//     holds '@' or '?' cannot be written in a URL: use the environment.
//     Errors show the URL redacted more eagerly than the parser reads it:
//     from the password's start to the last '@', every target_password
//     value and every unknown argument, so that such a password, cut
//     where the user did not mean, still does not show.
//   - The host ends at the first '/'. The port follows the last ':' (default
//     3260); an IPv6 literal is written in brackets, "[::1]:3260". A ",<tpgt>"
//     suffix (the form SendTargets prints, "10.0.0.1:3260,1") is accepted and
//     dropped, as libiscsi's connect does.
//   - The target name runs to the next '/', and is the only part that is
//     %-decoded ("%3A" is ':'). The LUN is the rest, in decimal.
//   - The portal form ignores anything after the host's '/', as libiscsi does,
//     so `iscsi-ls iscsi://host/iqn.x/0` keeps working.
//
// Arguments: target_user and target_password (mutual CHAP), header_digest and
// data_digest (none, crc32c), auth (md5, sha1, sha-256, sha3-256) and
// force_usn (the unit serial number the LUN must report). iser and iser://
// are recognised and refused with ErrISER.
//
// Credentials come from LIBISCSI_CHAP_USERNAME, LIBISCSI_CHAP_PASSWORD,
// LIBISCSI_CHAP_TARGET_USERNAME and LIBISCSI_CHAP_TARGET_PASSWORD unless the
// URL gives them; see Parser for the exact rules. (session.Dial puts the
// credentials of its Config between the two: it hands them to the Parser in
// place of the environment.)
//
// Deliberate differences from libiscsi, all of which turn a silent surprise
// into an error or accept a strict superset of what libiscsi accepts:
//
//   - An unknown argument, or a known one without "=value", is an error
//     (libiscsi ignores unknown arguments, and crashes or ignores a missing
//     value). A typo such as "target_pasword" must not silently drop mutual
//     CHAP. The error suggests the argument meant ("did you mean
//     target_password?") but never quotes an unknown name: after an '&' or
//     '?' inside a password, the "argument" is part of the password.
//   - A URL that asks for mutual CHAP (target_user or target_password given a
//     non-empty value) but ends up without a complete initiator and target
//     account is an error (libiscsi silently logs in without mutual CHAP).
//   - The port must be 1..65535 and the LUN 0..16383 written in plain digits
//     (libiscsi uses atoi and strtol: "host:" means port 0, "-1" and " 7" are
//     LUNs). Malformed %-escapes in the target name are errors. Host names are
//     letters, digits, '-', '.' and '_'; an unbracketed IPv6 address is an
//     error (libiscsi would misread its last group as the port).
//   - header_digest and data_digest also take "none-crc32c" and "crc32c-none"
//     (offer both, in that order of preference); auth also takes a
//     comma-separated preference list ("sha-256,md5"). Values, not keys, are
//     matched without regard to case.
//   - Parts longer than libiscsi's 255-byte buffers are not truncated; a
//     target name is limited to 223 bytes (RFC 7143 §4.2.7.1).
//
// Passwords never appear in errors or in URL.String.
package iscsiurl
