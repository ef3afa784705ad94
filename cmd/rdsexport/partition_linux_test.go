package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// netns is a network namespace joined to the test's by a veth pair. A
// process in it reaches the test's servers only through forwarders on the
// host end's address, and taking the link down is a network partition as
// the kernel makes it: packets are dropped, connections neither close nor
// reset.
type netns struct {
	name   string
	hostIf string
	hostIP string
	nsIP   string
}

var netnsSeq atomic.Int32

// newNetns makes a namespace, or skips the test where that is not allowed.
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	id := (os.Getpid()*8 + int(netnsSeq.Add(1))) % 16000
	n := &netns{
		name:   fmt.Sprintf("rdsx%d", id),
		hostIf: fmt.Sprintf("rdsx%dh", id),
		hostIP: fmt.Sprintf("10.%d.%d.%d", 200+id/16000, id/64%250, id%64*4+1),
	}
	n.nsIP = n.hostIP[:strings.LastIndexByte(n.hostIP, '.')+1] + fmt.Sprint(id%64*4+2)
	nsIf := fmt.Sprintf("rdsx%dn", id)
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", n.hostIf).Run()
		_ = exec.Command("ip", "netns", "del", n.name).Run()
	})
	for _, args := range [][]string{
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", nsIf},
		{"link", "set", nsIf, "netns", n.name},
		{"addr", "add", n.hostIP + "/30", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"-n", n.name, "addr", "add", n.nsIP + "/30", "dev", nsIf},
		{"-n", n.name, "link", "set", nsIf, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return n
}

// setLink takes the link down (a partition) or up again.
func (n *netns) setLink(t *testing.T, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if out, err := exec.Command("ip", "link", "set", n.hostIf, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s %s: %v: %s", n.hostIf, state, err, out)
	}
}

// addPartitionedNode starts one more node, in a namespace of its own: it
// reaches the store, the source and S3 through forwarders on the link's
// host end, and the test reaches it on the namespace's address.
func (c *testCluster) addPartitionedNode(t *testing.T) (*clusterNode, *netns) {
	t.Helper()
	ns := newNetns(t)
	pg := newBlackhole(c.t, ns.hostIP, "127.0.0.1:5432")
	gw, err := url.Parse(c.gw.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	s3fwd := newBlackhole(c.t, ns.hostIP, gw.Host)
	name := fmt.Sprintf("node%d", len(c.nodes)+1)
	config := c.writeConfig(t, name, ns.nsIP,
		strings.Replace(c.storeDB.URL, "127.0.0.1:5432", pg.addr, 1),
		strings.Replace(c.source.URL, "127.0.0.1:5432", pg.addr, 1),
		"http://"+s3fwd.addr)
	n := &clusterNode{name: name, config: config}
	n.p = startCommand(c.t, exec.Command("ip", "netns", "exec", ns.name, c.bin, "serve", "--config", config))
	c.nodes = append(c.nodes, n)
	return n, ns
}

// testPartitionedNode: the node running an export is cut off from
// everything (store, source, S3) by taking its network link down. Another
// node takes the export over; when the link comes back, the cut node
// writes nothing for it.
func testPartitionedNode(t *testing.T, c *testCluster) {
	cutNode, ns := c.addPartitionedNode(t)
	i := c.node(cutNode.name)
	defer func() {
		_ = cutNode.p.cmd.Process.Kill()
		_ = cutNode.p.cmd.Wait()
		c.nodes = c.nodes[:i]
	}()
	// The other nodes are paused while the export is claimed, so that
	// the namespaced node runs it.
	for j := range i {
		if err := c.nodes[j].p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	c.start(t, i, "netcut-1", "big", "big")
	runner, _ := c.waitRunner(t, "netcut-1", "", time.Minute)
	for j := range i {
		if err := c.nodes[j].p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	if runner != cutNode.name {
		t.Fatalf("%s runs the export, want %s", runner, cutNode.name)
	}
	resume := c.holdMidExport(t, i, "netcut-1", "big")
	ns.setLink(t, false)
	cut := time.Now()
	resume()
	next, attempt := c.waitRunner(t, "netcut-1", runner, 30*time.Second)
	t.Logf("link of %s down; %s took over (attempt %d) after %s", runner, next, attempt, time.Since(cut))
	c.wait(t, c.node(next), "netcut-1", 2*time.Minute, "COMPLETE")
	ns.setLink(t, true)
	time.Sleep(3 * time.Second) // anything late from the cut node would land now
	c.checkRows(t, "netcut-1", "big", clusterBigRows)
}
