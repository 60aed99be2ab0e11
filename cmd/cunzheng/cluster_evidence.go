package main

import (
	"context"
	"path/filepath"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger/cluster"
)

// openEvidenceStore returns the evidence store of cluster mode: the tables
// of --cluster-db, shared by every serve process of the cluster (tenants
// and their wrapped keys, subject keys, sealed records, the contract index,
// stored documents). Nil without --cluster-db: the embedded Pebble store
// under --data. The master key stays outside the database: every process
// needs the same one ($CUNZHENG_MASTER_KEY, or the same keys file).
func openEvidenceStore(ctx context.Context, c clusterFlags) (evidence.Store, error) {
	if on, err := c.enabled(); err != nil || !on {
		return nil, err
	}
	return evidence.OpenPostgres(ctx, c.db)
}

// tenantsAt returns where the tenant commands act: the tenant files of the
// data directory, or the cluster database when clusterDB is set. Close the
// returned store (nil for files) when done.
func tenantsAt(ctx context.Context, data, clusterDB string) (evidence.Tenants, evidence.Store, error) {
	if clusterDB == "" {
		return evidence.TenantFiles(filepath.Join(data, "evidence")), nil, nil
	}
	st, err := evidence.OpenPostgres(ctx, clusterDB)
	if err != nil {
		return evidence.Tenants{}, nil, err
	}
	return evidence.StoreTenants(st), st, nil
}

// documentBlobs returns where cluster mode keeps stored documents'
// ciphertext: the --objects bucket, under documents/. Nil without
// --cluster-db: the embedded store keeps them.
func documentBlobs(ctx context.Context, c clusterFlags) (evidence.Blobs, error) {
	if on, err := c.enabled(); err != nil || !on {
		return nil, err
	}
	obj, err := cluster.OpenObjects(ctx, c.objects)
	if err != nil {
		return nil, err
	}
	return objectBlobs{obj}, nil
}

// objectBlobs puts evidence's document ciphertext in the object store. The
// objects are private: the bucket's public part is the log's tiles,
// bundles and checkpoints.
type objectBlobs struct{ o *cluster.Objects }

func (b objectBlobs) PutBlob(ctx context.Context, key string, data []byte) error {
	return b.o.Put(ctx, key, data, "private, no-store")
}

func (b objectBlobs) GetBlob(ctx context.Context, key string) ([]byte, error) {
	return b.o.Get(ctx, key)
}
