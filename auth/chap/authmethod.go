package chap

import "strings"

// AuthMethodOffer returns the AuthMethod value an initiator offers:
// "CHAP" when CHAP is configured and required, "CHAP,None" when configured
// and None is allowed, "None" when no CHAP credentials are configured.
func AuthMethodOffer(configuredCHAP, allowNone bool) string {
	switch {
	case !configuredCHAP:
		return "None"
	case allowNone:
		return "CHAP,None"
	}
	return "CHAP"
}

// CheckAuthMethod is the policy for the target's AuthMethod answer.
// configuredCHAP says CHAP credentials are configured; allowNone says the
// user accepts a target that does not authenticate us. It returns nil when
// the session may go on (with CHAP when answered is "CHAP"), ErrDowngrade
// when CHAP is required and the target answered None, ErrCredentialsRequired
// when the target wants CHAP we have no credentials for, and
// ErrAuthMethodRejected for Reject, NotUnderstood, Irrelevant, a list, or a
// method that was not offered.
func CheckAuthMethod(configuredCHAP, allowNone bool, answered string) error {
	switch {
	case answered == "CHAP" && configuredCHAP:
		return nil
	case answered == "CHAP":
		return &KeyError{Key: "AuthMethod", Value: answered, Reason: "target requires CHAP; set a CHAP username and secret", Err: ErrCredentialsRequired}
	case answered == "None" && (!configuredCHAP || allowNone):
		return nil
	case answered == "None":
		return &KeyError{Key: "AuthMethod", Value: answered, Reason: "the target has no CHAP configured (it answered AuthMethod=None) and CHAP is required", Err: ErrDowngrade}
	case isRejectValue(answered):
		return keyErr(ErrAuthMethodRejected, "AuthMethod", answered, "the target refused AuthMethod="+AuthMethodOffer(configuredCHAP, allowNone)+": it has no CHAP configured, or does not speak it")
	case strings.IndexByte(answered, ',') >= 0:
		return keyErr(ErrAuthMethodRejected, "AuthMethod", answered, "target must choose one method, not a list")
	}
	return keyErr(ErrAuthMethodRejected, "AuthMethod", answered, "target chose a method that was not offered ("+AuthMethodOffer(configuredCHAP, allowNone)+")")
}
