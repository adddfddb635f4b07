// Package nar reads the metadata of a NiFi NAR bundle as NiFi Registry's
// NarBundleExtractor does: the coordinate, dependency and build info from
// META-INF/MANIFEST.MF, the system API version and extensions from
// META-INF/docs/extension-manifest.xml, and additionalDetails.md files.
// It is pure: it reads the bytes it is given and nothing else, and it
// bounds what it reads, because the bytes come from any client.
package nar

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// NA stands in for build info a manifest does not carry (NiFi's "N/A").
const NA = "N/A"

// Limits on what is read from a bundle: the manifest, the extension
// manifest and each additional details document are read into memory.
const (
	MaxManifest          = 1 << 20
	MaxExtensionManifest = 32 << 20
	MaxAdditionalDetails = 4 << 20
	MaxExtensions        = 10000
)

const (
	manifestEntry          = "META-INF/MANIFEST.MF"
	extensionManifestEntry = "META-INF/docs/extension-manifest.xml"
)

var additionalDetailsEntry = regexp.MustCompile(`^META-INF/docs/additional-details/(.+)/additionalDetails\.md$`)

// Error is a bundle NiFi's extractor refuses (its BundleException).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func bundleErr(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Coordinate is a bundle's group, artifact and version.
type Coordinate struct {
	Group    string `json:"groupId"`
	Artifact string `json:"artifactId"`
	Version  string `json:"version"`
}

// BuildInfo is NiFi's BuildInfo as the NAR extractor fills it.
type BuildInfo struct {
	BuildBranch   string `json:"buildBranch"`
	BuildFlags    string `json:"buildFlags"`
	BuildRevision string `json:"buildRevision"`
	BuildTag      string `json:"buildTag"`
	BuildTool     string `json:"buildTool"`
	Built         int64  `json:"built"`
	BuiltBy       string `json:"builtBy"`
}

// Details is what a bundle says about itself.
type Details struct {
	Coordinate       Coordinate
	Dependencies     []Coordinate // NiFi's NAR has at most one
	Build            BuildInfo
	SystemAPIVersion string
	Extensions       []Extension
	// AdditionalDetails maps an extension name to its additionalDetails.md.
	AdditionalDetails map[string]string
}

// Extension is one extension of the extension manifest, with the fields
// the registry's API answers with.
type Extension struct {
	Name              string               `xml:"name" json:"name"`
	Type              string               `xml:"type" json:"type"`
	Description       string               `xml:"description" json:"description,omitempty"`
	DeprecationNotice *DeprecationNotice   `xml:"deprecationNotice" json:"deprecationNotice,omitempty"`
	Tags              []string             `xml:"tags>tag" json:"tags,omitempty"`
	Restricted        *Restricted          `xml:"restricted" json:"restricted,omitempty"`
	ProvidedAPIs      []ProvidedServiceAPI `xml:"providedServiceAPIs>providedServiceAPI" json:"providedServiceAPIs,omitempty"`
}

// DeprecationNotice is an extension's deprecation.
type DeprecationNotice struct {
	Reason       string   `xml:"reason" json:"reason,omitempty"`
	Alternatives []string `xml:"alternatives>alternative" json:"alternatives,omitempty"`
}

// Restricted lists what a restricted extension needs.
type Restricted struct {
	GeneralRestrictionExplanation string        `xml:"generalRestrictionExplanation" json:"generalRestrictionExplanation,omitempty"`
	Restrictions                  []Restriction `xml:"restrictions>restriction" json:"restrictions,omitempty"`
}

// Restriction is one required permission.
type Restriction struct {
	Explanation        string `xml:"explanation" json:"explanation,omitempty"`
	RequiredPermission string `xml:"requiredPermission" json:"requiredPermission,omitempty"`
}

// ProvidedServiceAPI is a controller service API an extension implements.
type ProvidedServiceAPI struct {
	ArtifactID string `xml:"artifactId" json:"artifactId"`
	ClassName  string `xml:"className" json:"className"`
	GroupID    string `xml:"groupId" json:"groupId"`
	Version    string `xml:"version" json:"version"`
}

// ExtensionTypes are the constants of NiFi's ExtensionType.
var ExtensionTypes = []string{"PROCESSOR", "CONTROLLER_SERVICE", "REPORTING_TASK", "FLOW_ANALYSIS_RULE",
	"PARAMETER_PROVIDER", "FLOW_REGISTRY_CLIENT"}

type extensionManifest struct {
	XMLName          xml.Name    `xml:"extensionManifest"`
	SystemAPIVersion string      `xml:"systemApiVersion"`
	Extensions       []Extension `xml:"extensions>extension"`
}

// Extract reads the metadata of the NAR in r (size bytes).
func Extract(r io.ReaderAt, size int64) (*Details, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		// NiFi's JarInputStream finds no manifest in what is not a zip.
		return nil, bundleErr("NAR bundles must contain a valid MANIFEST")
	}
	var manifest, extManifest []byte
	details := &Details{AdditionalDetails: map[string]string{}}
	for _, f := range zr.File {
		switch {
		case f.Name == manifestEntry && manifest == nil:
			if manifest, err = readEntry(f, MaxManifest); err != nil {
				return nil, bundleErr("NAR bundles must contain a valid MANIFEST")
			}
		case f.Name == extensionManifestEntry:
			if extManifest, err = readEntry(f, MaxExtensionManifest); err != nil {
				return nil, bundleErr("Unable to obtain extension info for bundle due to: %v", err)
			}
		default:
			if m := additionalDetailsEntry.FindStringSubmatch(f.Name); m != nil {
				b, err := readEntry(f, MaxAdditionalDetails)
				if err != nil {
					return nil, bundleErr("Unable to read %s: %v", f.Name, err)
				}
				details.AdditionalDetails[m[1]] = string(b)
			}
		}
	}
	if manifest == nil {
		return nil, bundleErr("NAR bundles must contain a valid MANIFEST")
	}
	attrs, err := ParseManifest(manifest)
	if err != nil {
		return nil, bundleErr("NAR bundles must contain a valid MANIFEST")
	}
	details.Coordinate = Coordinate{attrs["nar-group"], attrs["nar-id"], attrs["nar-version"]}
	if details.Coordinate.Group == "" || details.Coordinate.Artifact == "" || details.Coordinate.Version == "" {
		// NiFi fails later, on the missing value (a 500); Weir names it.
		return nil, bundleErr("Unable to obtain bundle coordinate: the MANIFEST must carry Nar-Group, Nar-Id and Nar-Version")
	}
	if id, ok := attrs["nar-dependency-id"]; ok {
		details.Dependencies = []Coordinate{{attrs["nar-dependency-group"], id, attrs["nar-dependency-version"]}}
	}
	if details.Build, err = buildInfo(attrs); err != nil {
		return nil, err
	}
	details.SystemAPIVersion = NA
	if extManifest != nil {
		var em extensionManifest
		d := xml.NewDecoder(bytes.NewReader(extManifest))
		if err := d.Decode(&em); err != nil {
			return nil, bundleErr("Unable to obtain extension info for bundle due to: %v", err)
		}
		if len(em.Extensions) > MaxExtensions {
			return nil, bundleErr("Unable to obtain extension info for bundle due to: more than %d extensions", MaxExtensions)
		}
		for i, e := range em.Extensions {
			if strings.TrimSpace(e.Name) == "" {
				return nil, bundleErr("Invalid extension due to one or more constraint violations: extension %d has no name", i)
			}
			if !validType(e.Type) {
				return nil, bundleErr("Unable to obtain extension info for bundle due to: extension %s has an unknown type '%s'", e.Name, e.Type)
			}
		}
		details.SystemAPIVersion = em.SystemAPIVersion
		details.Extensions = em.Extensions
	}
	return details, nil
}

func validType(t string) bool {
	for _, v := range ExtensionTypes {
		if v == t {
			return true
		}
	}
	return false
}

func readEntry(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Name, limit)
	}
	return b, nil
}

// builtFormat is NiFi's "yyyy-MM-dd'T'HH:mm:ss'Z'", read as UTC.
const builtFormat = "2006-01-02T15:04:05Z"

func buildInfo(attrs map[string]string) (BuildInfo, error) {
	built, err := time.Parse(builtFormat, attrs["build-timestamp"])
	if err != nil {
		return BuildInfo{}, bundleErr("Unable to parse Build-Timestamp")
	}
	or := func(k string) string {
		if v := attrs[k]; strings.TrimSpace(v) != "" {
			return v
		}
		return NA
	}
	return BuildInfo{
		BuildTool:     or("build-jdk"),
		BuildBranch:   or("build-branch"),
		BuildTag:      or("build-tag"),
		BuildRevision: or("build-revision"),
		Built:         built.UnixMilli(),
		BuiltBy:       or("built-by"),
		BuildFlags:    NA,
	}, nil
}

// ParseManifest reads the main section of a JAR manifest into a map keyed
// by lower-cased attribute name (Java's Attributes.Name is
// case-insensitive). A line starting with a space continues the previous
// value; the main section ends at the first empty line.
func ParseManifest(b []byte) (map[string]string, error) {
	attrs := map[string]string{}
	last := ""
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			if len(attrs) > 0 {
				break
			}
			continue
		}
		if line[0] == ' ' {
			if last == "" {
				return nil, errors.New("continuation line without an attribute")
			}
			attrs[last] += line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid manifest line %q", line)
		}
		last = strings.ToLower(k)
		if _, dup := attrs[last]; !dup {
			attrs[last] = v
		}
	}
	return attrs, nil
}
