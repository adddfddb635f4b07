package api

// surfaces registers the parts of the NiFi Registry API that an unsecured
// registry without extension bundles answers with fixed results.
func (a *API) surfaces() {}
