package main

import "runtime/debug"

// version is set at link time (-ldflags "-X main.version=v1.2.3"); empty,
// the module version recorded by the go tool is used.
var version string

// buildVersion is the version rdsexport reports: the linked version, else
// the main module's version from the build info (a tag, or a pseudo-version
// with the commit when built from a checkout), else the VCS revision, else
// "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "devel-" + rev
}
