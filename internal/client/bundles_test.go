package client

import "testing"

// NiFi Registry spells its content-disposition with spaces around the
// equals sign, which the standard parser refuses.
func TestDispositionFilename(t *testing.T) {
	for in, want := range map[string]string{
		"attachment; filename = beta-nar-2.0.0.nar": "beta-nar-2.0.0.nar",
		`attachment; filename="a b.nar"`:            "a b.nar",
		"attachment; filename=x.nar; size=3":        "x.nar",
		"attachment":                                "",
		"":                                          "",
	} {
		if got := dispositionFilename(in); got != want {
			t.Errorf("dispositionFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
