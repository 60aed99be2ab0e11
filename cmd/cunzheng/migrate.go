package main

import (
	"context"
	"errors"
)

// runMigrate is not built yet; the issue that owns it replaces this file.
func runMigrate(ctx context.Context, args []string) error {
	return errors.New("the migrate command is not available in this build yet")
}
