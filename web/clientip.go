package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed
// (serve --trusted-proxies). It is a flag.Value taking "CIDR,CIDR,..." (a
// bare address is a /32 or /128); empty trusts none.
type TrustedProxies []netip.Prefix

// String lists the prefixes comma-separated.
func (p *TrustedProxies) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(*p))
	for i, pr := range *p {
		s[i] = pr.String()
	}
	return strings.Join(s, ",")
}

// Set adds the comma-separated CIDRs or addresses of v.
func (p *TrustedProxies) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pr, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("trusted proxy %q: not a CIDR or address: %w", part, err)
			}
			pr = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		*p = append(*p, pr.Masked())
	}
	if len(*p) == 0 {
		return errors.New("trusted proxies: no CIDR given")
	}
	return nil
}

func (p TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address the rate limits key on: the connection's peer,
// unless the peer is a trusted proxy; then the right-most address of
// X-Forwarded-For (all its header lines, in order) that is not itself a
// trusted proxy. Addresses left of it were written by the client and may
// be forged. An unparsable entry stops the walk at the last trusted hop,
// so that a garbled header never yields an address of the client's choice.
func (p TrustedProxies) clientAddr(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// Not ip:port (a test or unix socket): key on it as it is.
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !p.trusts(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = h.Unmap()
		if !p.trusts(addr) {
			break
		}
	}
	return addr.String()
}

const clientAddrKey = "cunzheng.client_addr"

// clientAddrs records each request's client address for clientIP.
func clientAddrs(p TrustedProxies) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(clientAddrKey, p.clientAddr(c.Request))
		c.Next()
	}
}

// clientIP is the request's client address as clientAddr decided it; use
// it, not c.ClientIP (which believes any peer by default) nor c.RemoteIP
// (the proxy's address behind one).
func clientIP(c *gin.Context) string {
	if a := c.GetString(clientAddrKey); a != "" {
		return a
	}
	return TrustedProxies(nil).clientAddr(c.Request)
}
