package flowdiff

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// This file reproduces the parts of Java's object semantics that leak into
// the diff output: Objects.equals (whether a difference exists), toString
// (valueA, valueB and the "From '%s' to '%s'" descriptions) and the
// iteration order of java.util.HashSet (which decides how a Set<String>
// prints).
//
// Values handed to the comparator are Go values standing for the Java ones:
//
//	nil           Java null
//	string        String, and enums (an enum prints as its name)
//	int64         Integer and Long (both print as plain decimals)
//	float64       Double
//	bool          Boolean
//	*position     org.apache.nifi.flow.Position
//	*bundle       org.apache.nifi.flow.Bundle
//	*connectable  org.apache.nifi.flow.ConnectableComponent
//	*coordinates  org.apache.nifi.flow.VersionedFlowCoordinates
//	*batchSize    org.apache.nifi.flow.BatchSize
//	javaSet       HashSet<String>, elements already in Java iteration order
//	javaList      ArrayList<String>
//	positionList  ArrayList<Position>
//	javaMap       LinkedHashMap<String, String>
//	*compRef      a VersionedComponent (COMPONENT_ADDED / COMPONENT_REMOVED)
//
// Typed nil pointers must never be stored in an interface: the jv methods
// return an untyped nil for absent values.

// javaSet is a HashSet<String> whose elements are unique and already in the
// order Java would iterate them. An unset optString is a null element.
type javaSet []optString

// javaList is a List<String>.
type javaList []optString

// positionList is a List<Position>; nil elements are null entries.
type positionList []*position

// javaMap is a LinkedHashMap<String, String> (Jackson's default Map), in
// insertion order, with unique keys.
type javaMap []mapEntry

type mapEntry struct {
	key   string
	value optString
}

// javaEquals reports Objects.equals(a, b) for the values above.
func javaEquals(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		// Double.equals compares bit patterns: 0.0 and -0.0 differ.
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case *position:
		y, ok := b.(*position)
		return ok && x.equal(y)
	case *bundle:
		y, ok := b.(*bundle)
		return ok && x.Group == y.Group && x.Artifact == y.Artifact && x.Version == y.Version
	case *connectable:
		// ConnectableComponent.equals looks at the id only, so a renamed
		// destination is not a DESTINATION_CHANGED.
		y, ok := b.(*connectable)
		return ok && x.ID == y.ID
	case *coordinates:
		// registryId and latest are deliberately not part of equals.
		y, ok := b.(*coordinates)
		return ok && x.StorageLocation == y.StorageLocation && x.Branch == y.Branch &&
			x.BucketID == y.BucketID && x.FlowID == y.FlowID && x.Version == y.Version
	case *batchSize:
		y, ok := b.(*batchSize)
		return ok && x.Count == y.Count && x.Size == y.Size && x.Duration == y.Duration
	case javaSet:
		y, ok := b.(javaSet)
		if !ok || len(x) != len(y) {
			return false
		}
		for _, e := range x {
			if !slices.Contains(y, e) {
				return false
			}
		}
		return true
	case javaList:
		y, ok := b.(javaList)
		return ok && slices.Equal(x, y)
	case positionList:
		y, ok := b.(positionList)
		return ok && slices.EqualFunc(x, y, (*position).equal)
	case javaMap:
		// AbstractMap.equals: same size and every entry found in the other.
		y, ok := b.(javaMap)
		if !ok || len(x) != len(y) {
			return false
		}
		for _, e := range x {
			i := slices.IndexFunc(y, func(f mapEntry) bool { return f.key == e.key })
			if i < 0 || y[i].value != e.value {
				return false
			}
		}
		return true
	case *compRef:
		// VersionedComponent.equals compares identifiers.
		y, ok := b.(*compRef)
		return ok && x.id == y.id
	}
	return false
}

// javaString is String.valueOf(v), which is what String.format("%s", v)
// prints.
func javaString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return javaDouble(x)
	case *position:
		return x.String()
	case *bundle:
		return "Bundle[group='" + x.Group.String() + "', artifact='" + x.Artifact.String() +
			"', version='" + x.Version.String() + "']"
	case *connectable:
		return "ConnectableComponent{id='" + x.ID.String() + "', instanceId='" + x.InstanceID.String() +
			"', type=" + x.Type.String() + ", groupId='" + x.GroupID.String() + "', name='" + x.Name.String() + "'}"
	case *coordinates:
		return "VersionedFlowCoordinates[branch=" + x.Branch.String() + ", bucketId=" + x.BucketID.String() +
			", flowId=" + x.FlowID.String() + ", version=" + x.Version.String() +
			", storageLocation=" + x.StorageLocation.String() + "]"
	case *batchSize:
		// BatchSize overrides hashCode but not toString, so Java prints
		// Object.toString: class name, '@', hashCode in hex. That is
		// deterministic, so it is reproduced rather than invented.
		return "org.apache.nifi.flow.BatchSize@" + strconv.FormatUint(uint64(uint32(x.hashCode())), 16)
	case javaSet:
		return joinJava(len(x), func(i int) string { return x[i].String() })
	case javaList:
		return joinJava(len(x), func(i int) string { return x[i].String() })
	case positionList:
		return joinJava(len(x), func(i int) string {
			if x[i] == nil {
				return "null"
			}
			return x[i].String()
		})
	case javaMap:
		var sb strings.Builder
		sb.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(e.key)
			sb.WriteByte('=')
			sb.WriteString(e.value.String())
		}
		sb.WriteByte('}')
		return sb.String()
	case *compRef:
		return x.id.String()
	}
	return "null"
}

// valueDescription mirrors FlowMappings.getValueDescription: a component
// is shown by its identifier, anything else by toString, null stays null
// (and is then omitted from the JSON).
func valueDescription(v any) *string {
	switch x := v.(type) {
	case nil:
		return nil
	case *compRef:
		if !x.id.set {
			return nil
		}
		s := strings.Clone(x.id.v)
		return &s
	}
	s := strings.Clone(javaString(v))
	return &s
}

// AbstractCollection.toString: "[a, b]".
func joinJava(n int, elem func(int) string) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(elem(i))
	}
	sb.WriteByte(']')
	return sb.String()
}

// isCollection reports whether v is a java.util.Collection, and its size.
// Maps are not collections, exactly as in Java.
func isCollection(v any) (size int, ok bool) {
	switch x := v.(type) {
	case javaSet:
		return len(x), true
	case javaList:
		return len(x), true
	case positionList:
		return len(x), true
	}
	return 0, false
}

// javaDouble formats f the way Double.toString does on Java 19 and later
// (NiFi 2 runs on Java 21): the shortest decimal that round-trips, shown
// plainly with at least one fractional digit when 1e-3 <= |f| < 1e7 and in
// computerized scientific notation ("1.0E7") otherwise.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	// Go's shortest representation picks the same digits; only the layout
	// differs. "-1.2345e+06" -> sign, digits "12345", exponent 6.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	if !strings.Contains(s, ".") {
		// One significant digit. Java then chooses among decimals of one
		// or two digits the one closest to f, so 5e-324 prints as
		// 4.9E-324 while 100 stays 100.0.
		two := strconv.FormatFloat(f, 'e', 1, 64) // "-d.de+XX"
		mant, _, _ := strings.Cut(strings.TrimPrefix(two, "-"), "e")
		if back, err := strconv.ParseFloat(two, 64); err == nil && back == f && mant[2] != '0' {
			s = two
		}
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)

	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	if abs := math.Abs(f); abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			if len(digits) <= exp+1 {
				sb.WriteString(digits)
				sb.WriteString(strings.Repeat("0", exp+1-len(digits)))
				sb.WriteString(".0")
			} else {
				sb.WriteString(digits[:exp+1])
				sb.WriteByte('.')
				sb.WriteString(digits[exp+1:])
			}
		} else {
			sb.WriteString("0.")
			sb.WriteString(strings.Repeat("0", -exp-1))
			sb.WriteString(digits)
		}
		return sb.String()
	}
	sb.WriteByte(digits[0])
	sb.WriteByte('.')
	if len(digits) > 1 {
		sb.WriteString(digits[1:])
	} else {
		sb.WriteByte('0')
	}
	sb.WriteByte('E')
	sb.WriteString(strconv.Itoa(exp))
	return sb.String()
}

// javaStringHash is String.hashCode, computed over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + hi
			h = 31*h + lo
			continue
		}
		h = 31*h + r
	}
	return h
}

// optHash is Objects.hashCode for a nullable String.
func optHash(s optString) int32 {
	if !s.set {
		return 0
	}
	return javaStringHash(s.v)
}

// javaHashSet returns elems as Jackson leaves them in a HashSet<String>:
// duplicates dropped (first one kept) and in HashMap iteration order.
//
// Jackson adds the elements one by one to a new HashSet, whose table starts
// at 16 buckets and doubles whenever the size exceeds 3/4 of it. Iteration
// walks the buckets in index order; inside a bucket, entries stay in
// insertion order (resizing splits buckets but keeps relative order). The
// bucket is (h ^ h>>>16) & (n-1) with h the String hashCode, null hashing to
// 0. Tree bins (more than 8 colliding entries) are not modelled: relationship
// names never collide that much.
func javaHashSet(elems []optString) javaSet {
	uniq := make(javaSet, 0, len(elems))
	for _, e := range elems {
		if !slices.Contains(uniq, e) {
			uniq = append(uniq, e)
		}
	}
	n := 16
	for len(uniq) > n*3/4 {
		n *= 2
	}
	bucket := func(e optString) uint32 {
		h := uint32(optHash(e))
		return (h ^ h>>16) & uint32(n-1)
	}
	slices.SortStableFunc(uniq, func(a, b optString) int {
		ba, bb := bucket(a), bucket(b)
		switch {
		case ba < bb:
			return -1
		case ba > bb:
			return 1
		}
		return 0
	})
	return uniq
}
