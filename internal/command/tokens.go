package command

// Token commands (level 4): the keys that sign access tokens and the
// tokens revoked by logout, replicated so every node verifies alike.

// AddSigningKey adds a key that signs access tokens from now on. Secret is
// fixed by the proposer (random). Apply keeps the newest MaxSigningKeys.
type AddSigningKey struct {
	ID     string `json:"id"`
	Secret []byte `json:"secret"`
	At     int64  `json:"at"`
}

// RevokeToken refuses a token (by its id) on every node until it would
// have expired anyway. Apply also forgets revocations expired by At.
type RevokeToken struct {
	TokenID string `json:"tokenId"`
	Expires int64  `json:"expires"`
	At      int64  `json:"at"`
}

func (*AddSigningKey) Type() Type { return TypeAddSigningKey }
func (*RevokeToken) Type() Type   { return TypeRevokeToken }
