// Package nartest builds NAR files for tests the way NiFi's NAR Maven
// plugin lays them out: a zip whose first entries are META-INF/ and
// META-INF/MANIFEST.MF, the extension manifest under META-INF/docs, and
// the bundled jars under META-INF/bundled-dependencies.
package nartest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
)

// Extension is one extension of the manifest.
type Extension struct {
	Name, Type, Description string
	Tags                    []string
	// Provides lists provided service APIs as class:group:artifact:version.
	Provides   []string
	Restricted string // a general restriction explanation, "" for none
}

// Spec describes a NAR.
type Spec struct {
	Group, Artifact, Version string
	Dep                      [3]string // group, artifact, version; empty for none
	SystemAPI                string
	Extensions               []Extension
	// AdditionalDetails maps extension names to additionalDetails.md text.
	AdditionalDetails map[string]string
	// Payload is stored (uncompressed) as a bundled jar, to make the NAR
	// as large as a test needs.
	Payload []byte
	// NoExtensionManifest leaves META-INF/docs/extension-manifest.xml out.
	NoExtensionManifest bool
}

// Manifest is the MANIFEST.MF text of s, as the NAR plugin writes it.
func Manifest(s Spec) string {
	var b strings.Builder
	b.WriteString("Manifest-Version: 1.0\r\nCreated-By: Apache Maven 3.9.6\r\nBuilt-By: nifi-builder\r\nBuild-Jdk: 21.0.2\r\n")
	fmt.Fprintf(&b, "Nar-Group: %s\r\nNar-Id: %s\r\nNar-Version: %s\r\n", s.Group, s.Artifact, s.Version)
	if s.Dep[1] != "" {
		fmt.Fprintf(&b, "Nar-Dependency-Group: %s\r\nNar-Dependency-Id: %s\r\nNar-Dependency-Version: %s\r\n", s.Dep[0], s.Dep[1], s.Dep[2])
	}
	b.WriteString("Build-Tag: nifi-2.7.2-RC1\r\nBuild-Revision: 1a2b3c4\r\nBuild-Branch: main\r\nBuild-Timestamp: 2025-11-20T10:15:30Z\r\nClone-During-Instance-Class-Loading: false\r\n\r\n")
	return b.String()
}

// ExtensionManifest is the extension-manifest.xml text of s.
func ExtensionManifest(s Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<extensionManifest>\n<groupId>%s</groupId>\n<artifactId>%s</artifactId>\n<version>%s</version>\n", s.Group, s.Artifact, s.Version)
	fmt.Fprintf(&b, "<systemApiVersion>%s</systemApiVersion>\n<extensions>\n", s.SystemAPI)
	for _, e := range s.Extensions {
		fmt.Fprintf(&b, "<extension>\n<name>%s</name>\n<type>%s</type>\n<description>%s</description>\n", e.Name, e.Type, e.Description)
		if len(e.Tags) > 0 {
			b.WriteString("<tags>")
			for _, t := range e.Tags {
				fmt.Fprintf(&b, "<tag>%s</tag>", t)
			}
			b.WriteString("</tags>\n")
		}
		b.WriteString("<properties><property><name>p</name><displayName>P</displayName><required>true</required></property></properties>\n")
		if e.Restricted != "" {
			fmt.Fprintf(&b, "<restricted><generalRestrictionExplanation>%s</generalRestrictionExplanation><restrictions><restriction><requiredPermission>read filesystem</requiredPermission><explanation>reads files</explanation></restriction></restrictions></restricted>\n", e.Restricted)
		}
		if len(e.Provides) > 0 {
			b.WriteString("<providedServiceAPIs>")
			for _, p := range e.Provides {
				f := strings.SplitN(p, ":", 4)
				fmt.Fprintf(&b, "<providedServiceAPI><className>%s</className><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></providedServiceAPI>", f[0], f[1], f[2], f[3])
			}
			b.WriteString("</providedServiceAPIs>\n")
		}
		b.WriteString("</extension>\n")
	}
	b.WriteString("</extensions>\n</extensionManifest>\n")
	return b.String()
}

// Build returns the NAR's bytes.
func Build(s Spec) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, body []byte, method uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			panic(err)
		}
		if _, err := w.Write(body); err != nil {
			panic(err)
		}
	}
	add("META-INF/", nil, zip.Store)
	add("META-INF/MANIFEST.MF", []byte(Manifest(s)), zip.Deflate)
	if !s.NoExtensionManifest {
		add("META-INF/docs/extension-manifest.xml", []byte(ExtensionManifest(s)), zip.Deflate)
	}
	for name, md := range s.AdditionalDetails {
		add("META-INF/docs/additional-details/"+name+"/additionalDetails.md", []byte(md), zip.Deflate)
	}
	add("META-INF/bundled-dependencies/"+s.Artifact+"-"+s.Version+".jar", s.Payload, zip.Store)
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
