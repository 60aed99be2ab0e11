package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/cluster"
	"github.com/cunzheng/cunzheng/ledger/cluster/clustertest"
	"github.com/cunzheng/cunzheng/ledger/storetest"
)

// servers starts one PostgreSQL and one S3 server for a test; each store
// then gets its own database and bucket.
type servers struct {
	pg *clustertest.PG
	s3 *clustertest.S3Server
}

func startServers(t *testing.T) *servers {
	for _, kv := range clustertest.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return &servers{pg: clustertest.StartPostgres(t), s3: clustertest.StartS3(t)}
}

// fresh returns the DSN and objects URL of a new, empty cluster.
func (s *servers) fresh(t *testing.T) (dsn, objects string) {
	return s.pg.NewDatabase(t), fmt.Sprintf("s3://%s?endpoint=%s&region=%s", s.s3.NewBucket(t), s.s3.Endpoint, clustertest.Region)
}

func openStore(t *testing.T, dsn, objects string) *cluster.Store {
	t.Helper()
	ctx := context.Background()
	obj, err := cluster.OpenObjects(ctx, objects)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cluster.Open(ctx, dsn, obj, cluster.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestClusterStoreConformance(t *testing.T) {
	srv := startServers(t)
	storetest.RunShared(t, func(t *testing.T) func() ledger.SharedStore {
		dsn, objects := srv.fresh(t)
		return func() ledger.SharedStore { return openStore(t, dsn, objects) }
	})
}
