package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// TestBrowserOffices is the partner notary's journey in a real browser: a
// log (cunzheng serve) and two offices, A pushed to and B pulling the log
// itself. Chromium walks both offices' pages, looks a leaf up on B's
// /fingerprints (proved from B's own copy), then a fork is forged (a second
// checkpoint of a size A cosigned, signed with the log's key) and the alarm
// is red, with both notes, on A's pages and on the log's / and /notaries,
// until an operator acknowledges it with `cunzheng notary alarms ack`.
func TestBrowserOffices(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and Chromium")
	}
	offices := startTwoOffices(t)
	bin, dirA, keys, vkA, vkB, logAddr, s, a, b := offices.bin, offices.dirA, offices.keys, offices.vkA, offices.vkB, offices.logAddr, offices.s, offices.a, offices.b

	// Both offices cosign the newest checkpoint; B holds every leaf.
	logSize := func() uint64 {
		lines := strings.SplitN(string(httpGet(t, s.url+"/checkpoint")), "\n", 3)
		n, err := strconv.ParseUint(lines[1], 10, 64)
		if err != nil {
			t.Fatalf("checkpoint size %q: %v", lines[1], err)
		}
		return n
	}
	origin := strings.SplitN(string(httpGet(t, s.url+"/checkpoint")), "\n", 2)[0]
	var size uint64
	waitUntil(t, "both offices cosign the newest checkpoint and B pulls every leaf", func() bool {
		size = logSize()
		var ova, ovb notary.Overview
		getJSON(t, a.url()+"/v1/office", &ova)
		getJSON(t, b.url()+"/v1/office", &ovb)
		return size > 1 && len(ova.Logs) == 1 && ova.Logs[0].Size == size && len(ovb.Logs) == 1 &&
			ovb.Logs[0].Size == size && ovb.Logs[0].PulledSize == size
	})
	var entry struct {
		LeafHash string `json:"leaf_hash"`
	}
	getJSON(t, s.url+"/v1/log/entries/1", &entry)
	lh, err := base64.StdEncoding.DecodeString(entry.LeafHash)
	if err != nil || len(lh) != 32 {
		t.Fatalf("leaf hash %q: %v", entry.LeafHash, err)
	}

	bt := &tab{t: t, ctx: newBrowser(t), artifacts: artifactsDir(t)}
	page := func(url string) string {
		t.Helper()
		bt.do("open "+url, chromedp.Navigate(url), chromedp.WaitReady("body"))
		return bt.text("body")
	}
	wantAll := func(what, body string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, body)
			}
		}
	}

	// The offices' own pages.
	body := page(a.url() + "/")
	wantAll("A's overview", body, "公证处概览", "a.office.test", notary.KeyFingerprint(vkA), "推送", strconv.FormatUint(size, 10))
	bt.shot("a-home")
	body = page(b.url() + "/?lang=en")
	wantAll("B's overview", body, "Notary office overview", notary.KeyFingerprint(vkB), "pull", "http://"+logAddr)
	page(b.url() + "/?lang=zh") // the language choice is a cookie, shared by every port of the host
	body = page(a.url() + "/cosigned")
	wantAll("A's cosigned", body, "已联署检查点", "— a.office.test ")

	// B proves a leaf from its own copy; A, pushed to, says it holds none.
	bt.do("look a leaf up on B", chromedp.Navigate(b.url()+"/fingerprints"), chromedp.WaitReady(`input[name=hash]`),
		chromedp.SendKeys(`input[name=hash]`, hex.EncodeToString(lh)), chromedp.Submit(`input[name=hash]`),
		chromedp.WaitVisible(`.card`))
	body = bt.text("main")
	if bt.eval(`!!document.querySelector('#holding-1')`) != true {
		t.Error("B's /fingerprints does not show the holding at index 1")
	}
	wantAll("B's /fingerprints", body, "本公证处持有此叶哈希", "已由本公证处自有副本计算", fmt.Sprintf("大小 %d", size))
	bt.shot("b-fingerprints")
	body = page(a.url() + "/fingerprints?hash=" + hex.EncodeToString(lh))
	wantAll("A's /fingerprints", body, "本公证处未持有此叶哈希", "以推送方式跟随")

	// Fork: the log's key signs another root for a size A cosigned.
	forged, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))}, keys.Signers()...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(a.url()+"/add-checkpoint", "text/plain", bytes.NewReader((&tlogfmt.AddCheckpoint{Old: size, Checkpoint: forged}).Marshal()))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 409 {
		t.Fatalf("forged checkpoint: %d, want 409", resp.StatusCode)
	}
	forgedRoot := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

	// Red on every page of A, both notes in full on /alarms.
	for _, p := range []string{"/", "/cosigned", "/fingerprints"} {
		page(a.url() + p)
		if red := bt.eval(`(() => { const e = document.querySelector('.alarm-banner .bad'); return e ? getComputedStyle(e).color : '' })()`); red != "rgb(179, 38, 30)" {
			t.Errorf("A's %s: alarm banner colour %v, want red", p, red)
		}
	}
	body = page(a.url() + "/alarms")
	wantAll("A's /alarms", body, "分叉", "未确认", forgedRoot, fmt.Sprintf("%s\n%d\n", origin, size))
	bt.shot("a-alarms")

	// Red on the log's / (the pusher polls the offices' alarms) and
	// /notaries, pointing at A's evidence.
	waitUntil(t, "the log's home page shows the fork alarm", func() bool {
		page(s.url + "/")
		return bt.eval(`!!document.querySelector('#fork-alarm')`) == true
	})
	body = bt.text("#fork-alarm")
	wantAll("the log's home page", body, "分叉告警", "a.office.test", "1 条未确认")
	if href := bt.eval(`document.querySelector('#fork-alarm a').href`); href != a.url()+"/alarms" {
		t.Errorf("the home page's alarm links to %v, want %s/alarms", href, a.url())
	}
	bt.shot("log-home-alarm")
	body = page(s.url + "/notaries")
	wantAll("the log's /notaries", body, "a.office.test", "b.office.test", notary.KeyFingerprint(vkA), notary.KeyFingerprint(vkB),
		"分叉告警 1 条未确认", "前")
	bt.shot("log-notaries-alarm")
	bt.do("follow the evidence link", chromedp.Click(`a[href="`+a.url()+`/alarms"]`), chromedp.WaitVisible(`pre`))
	wantAll("A's /alarms from the log", bt.text("main"), forgedRoot, fmt.Sprintf("%s\n%d\n", origin, size))

	// The operator acknowledges (the office is stopped while it does).
	a.kill()
	if out, err := exec.Command(bin, "notary", "alarms", "ack", "0", "--data", dirA, "--by", "值班员").CombinedOutput(); err != nil {
		t.Fatalf("alarms ack: %v\n%s", err, out)
	}
	a.start()
	body = page(a.url() + "/alarms")
	wantAll("A's /alarms after the ack", body, "已确认", "值班员", forgedRoot)
	if bt.eval(`!!document.querySelector('.alarm-banner')`) == true {
		t.Error("A still shows the banner after the acknowledgement")
	}
	waitUntil(t, "the log's home page drops the alarm", func() bool {
		page(s.url + "/")
		return bt.eval(`!!document.querySelector('#fork-alarm')`) == false
	})
	if t.Failed() {
		t.Logf("log's /notaries:\n%s", page(s.url+"/notaries"))
	}
	body = page(s.url + "/notaries")
	wantAll("the log's /notaries after the ack", body, "1 条，已确认")
}

// twoOffices is a log serving the demo with two partner offices (their
// own processes): A is pushed to, B pulls the log.
type twoOffices struct {
	bin, data, dirA string
	keys            *ledger.Keys
	vkA, vkB        string
	logAddr         string
	s               *server
	a, b            *notaryProc
	demoKey         string
}

// startTwoOffices starts the offices and the log and waits for the demo.
func startTwoOffices(t *testing.T) *twoOffices {
	t.Helper()
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	logData, dirA, dirB := filepath.Join(data, "log"), filepath.Join(data, "a"), filepath.Join(data, "b")
	keys := mustKeys(t, logData)
	logVKey := keys.VerifierKeys()[0]
	vkeyOf := func(dir string) string {
		out, err := exec.Command(bin, "notary", "keys", "--data", dir, "--name", filepath.Base(dir)+".office.test").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	vkA, vkB := vkeyOf(dirA), vkeyOf(dirB)
	logAddr := freeAddr(t)
	a := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dirA, "--log", logVKey}}
	b := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dirB, "--log", logVKey, "--pull", "http://" + logAddr}}
	a.start()
	s := startServe(t, "--addr", logAddr, "--data", logData, "--demo",
		"--notary", a.url()+"="+vkA, "--notary-fetch", b.url()+"="+vkB)
	b.start()
	return &twoOffices{bin: bin, data: data, dirA: dirA, keys: keys, vkA: vkA, vkB: vkB, logAddr: logAddr,
		s: s, a: a, b: b, demoKey: waitDemo(t, s)}
}
