//go:build !linux

package store

func mountID(string) string { return "" }
