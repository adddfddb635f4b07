// Package packaging holds the tests of the deployment artefacts (the
// systemd unit, the release and test scripts, the version string and the
// LICENSE), each checked with the tool made for it; see packaging/.
package packaging
