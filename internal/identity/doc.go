// Package identity turns what a client presents into the identity NiFi
// Registry would see: the subject DN of a client certificate in Java's
// X500Name form, NiFi's identity mappings (a pattern, a value with the
// pattern's groups, a case transform), and the X-ProxiedEntitiesChain
// header NiFi sends on behalf of its users (parsed and written as NiFi's
// ProxiedEntitiesUtils does). Pure functions: no I/O, no policy.
package identity
