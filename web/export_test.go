package web

// Test hooks of the upload bounds (upload.go).

// Held returns the bytes the uploads hold now.
func (b *uploadBudget) Held() int64 { return b.held.Load() }

// Peak returns the most the uploads ever held at once.
func (b *uploadBudget) Peak() int64 { return b.peak.Load() }

// Builds returns how many entries the cache has built.
func (c *tileCache) Builds() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.builds
}

// BundleCache returns the entry-bundle cache of the log routes of s.
func BundleCache(s *Server) *tileCache { return s.bundles }
