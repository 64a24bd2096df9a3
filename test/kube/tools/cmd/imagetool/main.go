// Command imagetool makes the container images of the real-Kubernetes test hosts and serves
// them (registry.k8s.io and the like are out of reach here):
//
//	imagetool build -o OUT.tar -t NAME:TAG [-entrypoint PATH] [-env K=V]... SRC=DEST...
//	    an image of one layer holding each SRC (file or folder) at DEST, as a docker archive
//	imagetool serve -addr HOST:PORT ARCHIVE...
//	    an in-memory registry holding every image of the archives under its repository path
//	    without the registry host (registry.k8s.io/kube-apiserver:v1.35.8 is served as
//	    kube-apiserver:v1.35.8), which is how containerd asks a mirror for it
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	log.SetFlags(0)
	log.SetPrefix("imagetool: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: imagetool build|serve ...")
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (build or serve)", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func build(args []string) error {
	flags := flag.NewFlagSet("build", flag.ExitOnError)
	out := flags.String("o", "", "the docker archive to write")
	tag := flags.String("t", "", "the image's name and tag")
	entrypoint := flags.String("entrypoint", "", "the image's entrypoint (none by default)")
	var env list
	flags.Var(&env, "env", "an environment variable of the image (repeatable)")
	_ = flags.Parse(args)
	if *out == "" || *tag == "" || flags.NArg() == 0 {
		return fmt.Errorf("build needs -o, -t and at least one SRC=DEST")
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return err
	}
	layerTar, err := layerOf(flags.Args())
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Env = env
	if *entrypoint != "" {
		cfg.Config.Entrypoint = []string{*entrypoint}
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	return tarball.WriteToFile(*out, ref, img)
}

// layerOf tars each SRC=DEST pair, parent folders first; folders keep their files' modes and
// symbolic links. Owners are root and times zero, so the same files make the same layer.
func layerOf(pairs []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{"/": true}
	var folder func(string) error
	folder = func(dir string) error {
		if written[dir] {
			return nil
		}
		if err := folder(filepath.Dir(dir)); err != nil {
			return err
		}
		written[dir] = true
		return tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dir, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)})
	}
	for _, pair := range pairs {
		src, dest, ok := strings.Cut(pair, "=")
		if !ok || !strings.HasPrefix(dest, "/") {
			return nil, fmt.Errorf("%q is not SRC=/DEST", pair)
		}
		if err := folder(filepath.Dir(dest)); err != nil {
			return nil, err
		}
		err := filepath.WalkDir(src, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			target := filepath.Join(dest, rel)
			if written[target] {
				return nil
			}
			info, err := os.Lstat(path)
			if err != nil {
				return err
			}
			link := ""
			if info.Mode()&fs.ModeSymlink != 0 {
				if link, err = os.Readlink(path); err != nil {
					return err
				}
			}
			hdr, err := tar.FileInfoHeader(info, link)
			if err != nil {
				return err
			}
			hdr.Name = strings.TrimPrefix(target, "/")
			hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
			hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
			if info.IsDir() {
				written[target] = true
				hdr.Name += "/"
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func serve(args []string) error {
	flags := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:5000", "where to listen")
	_ = flags.Parse(args)
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(listener) }()
	count := 0
	for _, archive := range flags.Args() {
		manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(archive) })
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		for _, entry := range manifest {
			for _, repoTag := range entry.RepoTags {
				src, err := name.NewTag(repoTag)
				if err != nil {
					return err
				}
				img, err := tarball.ImageFromPath(archive, &src)
				if err != nil {
					return fmt.Errorf("%s: %w", archive, err)
				}
				dst, err := name.NewTag(fmt.Sprintf("%s/%s:%s", listener.Addr(), src.RepositoryStr(), src.TagStr()), name.Insecure)
				if err != nil {
					return err
				}
				if err := remote.Write(dst, img); err != nil {
					return fmt.Errorf("%s: %w", repoTag, err)
				}
				count++
			}
		}
	}
	log.Printf("serving %d images on %s", count, listener.Addr())
	select {}
}
