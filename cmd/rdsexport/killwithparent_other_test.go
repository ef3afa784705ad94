//go:build !linux

package main

import "os/exec"

// killWithParent does nothing where the kernel offers no parent-death
// signal: a killed benchmark may leave its server process behind.
func killWithParent(*exec.Cmd) {}
