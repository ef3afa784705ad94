package export

import "time"

// DBCluster is a configured database server exportable as a live DB
// cluster (SourceType CLUSTER). Fields map to the DBCluster wire shape.
type DBCluster struct {
	Identifier     string
	AccountID      string
	Engine         string // aurora-postgresql, postgres, aurora-mysql, mysql, mariadb
	EngineVersion  string
	Status         string // "available"
	Endpoint       string
	Port           int
	MasterUsername string
	DatabaseName   string
	CreateTime     time.Time
	ResourceID     string // cluster-XXXX
}

// DBInstance is a configured database server exposed as a DB instance.
type DBInstance struct {
	Identifier        string
	AccountID         string
	Engine            string
	EngineVersion     string
	Status            string // "available"
	Address           string
	Port              int
	MasterUsername    string
	DBName            string
	CreateTime        time.Time
	ResourceID        string // db-XXXX
	ClusterIdentifier string
	AllocatedStorage  int
}

// EngineFamily returns "postgres" or "mysql" for an RDS engine name, or ""
// when the engine cannot be exported (spec §7.2).
func EngineFamily(engine string) string {
	switch engine {
	case "postgres", "aurora-postgresql":
		return "postgres"
	case "mysql", "mariadb", "aurora-mysql":
		return "mysql"
	}
	return ""
}
