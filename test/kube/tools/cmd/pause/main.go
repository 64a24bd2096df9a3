// Command pause is the test hosts' sandbox image: it holds a pod's namespaces open, reaps the
// children it inherits as PID 1, and exits on SIGTERM or SIGINT, as registry.k8s.io/pause does.
// Like it, `pause -v` prints a version and exits 0: kubeadm upgrade's health check runs a Job
// of the pause image with that argument and waits 15 s for it to complete.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	for _, arg := range os.Args[1:] {
		if arg == "-v" {
			fmt.Println("pause (k8s-lab test hosts)")
			return
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
