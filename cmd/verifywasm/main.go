//go:build js && wasm

// Command verifywasm is the /verify page's local check: package verify
// compiled to WebAssembly (GOOS=js GOARCH=wasm, run by Go's wasm_exec.js),
// so that a court's PDF is checked inside its browser and never uploaded.
// The server gets only the SHA-256 of the file and of each signed revision,
// through the page's lookup function. Built by `make wasm` into
// web/wasm/verify.wasm, which package web embeds.
//
// It defines two global functions, each returning a Promise of a JSON
// string (web/verifyview.LocalResult):
//
//	cunzhengVerifyPDF(bytes: Uint8Array, request: string, lookup: (sha256hex) => Promise<{status, body}>)
//	cunzhengVerifyBundle(bytes: Uint8Array, request: string)
//
// request is a web/verifyview.LocalRequest as JSON. lookup answers like
// GET /v1/verify/lookup?sha256=… (status 404: not recorded).
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"time"

	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web/verifyview"
)

// fileTimeout matches the server's per-file deadline.
const fileTimeout = 20 * time.Second

func main() {
	js.Global().Set("cunzhengVerifyPDF", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) < 2 {
			return rejected("cunzhengVerifyPDF(bytes, request, lookup)")
		}
		data, req, err := decode(args[0], args[1])
		if err != nil {
			return rejected(err.Error())
		}
		var lookup verify.DocumentLookup
		if len(args) > 2 && args[2].Type() == js.TypeFunction {
			lookup = jsLookup{args[2]}
		}
		return promise(func() any {
			ctx, cancel := context.WithTimeout(context.Background(), fileTimeout)
			defer cancel()
			return verifyview.CheckPDF(ctx, data, req, lookup)
		})
	}))
	js.Global().Set("cunzhengVerifyBundle", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) < 2 {
			return rejected("cunzhengVerifyBundle(bytes, request)")
		}
		data, req, err := decode(args[0], args[1])
		if err != nil {
			return rejected(err.Error())
		}
		return promise(func() any { return verifyview.CheckBundle(data, req) })
	}))
	// Tell the page the functions are there; then stay alive for calls.
	if f := js.Global().Get("cunzhengWasmReady"); f.Type() == js.TypeFunction {
		f.Invoke()
	}
	select {}
}

func decode(bytes, request js.Value) ([]byte, verifyview.LocalRequest, error) {
	var req verifyview.LocalRequest
	if !bytes.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, req, errors.New("the file must be a Uint8Array")
	}
	data := make([]byte, bytes.Get("length").Int())
	js.CopyBytesToGo(data, bytes)
	if err := json.Unmarshal([]byte(request.String()), &req); err != nil {
		return nil, req, fmt.Errorf("request: %w", err)
	}
	return data, req, nil
}

// promise runs work on its own goroutine (a js.FuncOf callback must not
// block: the lookup waits for fetch) and resolves with its JSON.
func promise(work func() any) js.Value {
	var handler js.Func
	handler = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer handler.Release()
			b, err := json.Marshal(work())
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(string(b))
		}()
		return nil
	})
	return js.Global().Get("Promise").New(handler)
}

func rejected(msg string) js.Value {
	return js.Global().Get("Promise").Call("reject", js.Global().Get("Error").New(msg))
}

// jsLookup asks the page's lookup function, which fetches
// GET /v1/verify/lookup?sha256=… with only the hash.
type jsLookup struct{ fn js.Value }

func (l jsLookup) LookupDocument(ctx context.Context, sum [32]byte) (verify.LedgerRecord, error) {
	var rec verify.LedgerRecord
	type answer struct {
		status int
		body   string
		err    error
	}
	ch := make(chan answer, 1)
	var then, catch js.Func
	then = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := args[0]
		ch <- answer{status: v.Get("status").Int(), body: v.Get("body").String()}
		return nil
	})
	catch = js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "lookup failed"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		ch <- answer{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	l.fn.Invoke(hex.EncodeToString(sum[:])).Call("then", then).Call("catch", catch)
	var a answer
	select {
	case a = <-ch:
	case <-ctx.Done():
		return rec, fmt.Errorf("ledger lookup: %w", ctx.Err())
	}
	if a.err != nil {
		return rec, fmt.Errorf("ledger lookup: %w", a.err)
	}
	switch a.status {
	case 200:
	case 404:
		return rec, verify.ErrNotRecorded
	case 503:
		// The server path's lookup returns ErrPending itself; over HTTP it
		// is a 503 whose error names it.
		if strings.Contains(a.body, verify.ErrPending.Error()) {
			return rec, verify.ErrPending
		}
		return rec, fmt.Errorf("ledger lookup: server answered %d", a.status)
	default:
		return rec, fmt.Errorf("ledger lookup: server answered %d", a.status)
	}
	if err := json.Unmarshal([]byte(a.body), &rec); err != nil {
		return rec, fmt.Errorf("ledger lookup: %w", err)
	}
	return rec, nil
}
