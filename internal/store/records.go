package store

// BucketRec is a stored bucket.
type BucketRec struct {
	ID                  string  `json:"id"`
	Name                string  `json:"name"`
	Description         *string `json:"description,omitempty"`
	Created             int64   `json:"created"`
	AllowBundleRedeploy bool    `json:"allowBundleRedeploy"`
	AllowPublicRead     bool    `json:"allowPublicRead"`
}

// FlowRec is a stored flow. VersionCount is the latest version number
// (versions are contiguous from 1), kept here so "latest" is one lookup.
type FlowRec struct {
	ID           string  `json:"id"`
	BucketID     string  `json:"bucketId"`
	Name         string  `json:"name"`
	Description  *string `json:"description,omitempty"`
	Created      int64   `json:"created"`
	Modified     int64   `json:"modified"`
	VersionCount int64   `json:"versionCount"`
}

// VersionRec is the metadata of one stored flow version.
type VersionRec struct {
	Version   int32   `json:"version"`
	Timestamp int64   `json:"timestamp"`
	Author    string  `json:"author"`
	Comments  *string `json:"comments,omitempty"`
}

// Revision is an entity's NiFi revision. Entities without a stored revision
// are at version 0 with no client id.
type Revision struct {
	Version  int64   `json:"version"`
	ClientID *string `json:"clientId,omitempty"`
}

// Maintenance is the cluster-wide read-only switch.
type Maintenance struct {
	On     bool   `json:"on"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
	Since  int64  `json:"since,omitempty"`
}

// NodeRec is what the cluster knows about a member.
type NodeRec struct {
	ID       string `json:"id"`
	APIURL   string `json:"apiUrl"`
	RaftAddr string `json:"raftAddr"`
	Zone     string `json:"zone,omitempty"`
	Since    int64  `json:"since"`
	// Level is the command level the member's build understands (0 for
	// builds from before levels: level 1).
	Level int `json:"level,omitempty"`
}

// Result values returned by Apply for each command type.
type (
	// BucketResult answers bucket commands; Rev is set when the command
	// carried a revision claim. For deletes it is the deleted bucket.
	BucketResult struct {
		Bucket BucketRec
		Rev    *Revision
	}
	// FlowResult answers flow commands; Bucket is the flow's bucket.
	FlowResult struct {
		Flow   FlowRec
		Bucket BucketRec
		Rev    *Revision
	}
	// VersionResult answers CreateVersion: the new version, the flow with
	// its new count and the bucket.
	VersionResult struct {
		Version VersionRec
		Flow    FlowRec
		Bucket  BucketRec
	}
)
