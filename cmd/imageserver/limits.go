package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/hostpush/hostpush/imageserver"
)

// outputFlags are the flags of the output limit and the AVIF pool; they
// live here, apart from the older flags, and reach the configuration
// through apply.
type outputFlags struct {
	maxOutputPixels, maxAVIFPixels int64
	avif                           imageserver.AVIFConfig
	set                            map[string]*bool
}

func defineOutputFlags(app *kingpin.Application, def imageserver.Config) *outputFlags {
	f := &outputFlags{avif: def.AVIF, set: map[string]*bool{}}
	user := func(name string) *bool { b := new(bool); f.set[name] = b; return b }
	a := &f.avif
	app.Flag("limits.max-output-pixels", "Largest output in pixels (also the resized image before a crop or rotation); larger requests get 400.").
		Default(fmt.Sprint(def.Pipeline.MaxOutputPixels)).IsSetByUser(user("pixels")).Int64Var(&f.maxOutputPixels)
	app.Flag("limits.max-avif-output-pixels", "Largest AVIF output in pixels (AVIF encoding needs about 30 bytes per pixel).").
		Default(fmt.Sprint(def.Pipeline.MaxAVIFOutputPixels)).IsSetByUser(user("avifpixels")).Int64Var(&f.maxAVIFPixels)
	app.Flag("avif.workers", "AVIF transforms run at once (each also holds one of the --workers).").
		Default(fmt.Sprint(a.Admission.Workers)).IsSetByUser(user("workers")).IntVar(&a.Admission.Workers)
	app.Flag("avif.queue-size", "AVIF requests that may wait for an AVIF worker.").
		Default(fmt.Sprint(a.Admission.QueueSize)).IsSetByUser(user("qsize")).IntVar(&a.Admission.QueueSize)
	app.Flag("avif.queue-timeout", "Longest wait for an AVIF worker before answering 503.").
		Default(a.Admission.Timeout.String()).IsSetByUser(user("qtimeout")).DurationVar(&a.Admission.Timeout)
	app.Flag("avif.transform-timeout", "Longest an AVIF transform may run.").
		Default(a.Timeout.String()).IsSetByUser(user("timeout")).DurationVar(&a.Timeout)
	app.Flag("avif.auto-format", "Let auto=format answer AVIF to clients that accept it (AVIF costs more CPU than WebP at large sizes).").
		IsSetByUser(user("auto")).BoolVar(&a.AutoFormat)
	return f
}

// apply copies the flags the user gave into cfg.
func (f *outputFlags) apply(cfg *imageserver.Config) {
	given := func(name string) bool { return *f.set[name] }
	if given("pixels") {
		cfg.Pipeline.MaxOutputPixels = f.maxOutputPixels
	}
	if given("avifpixels") {
		cfg.Pipeline.MaxAVIFOutputPixels = f.maxAVIFPixels
	}
	a := &cfg.AVIF
	if given("workers") {
		a.Admission.Workers = f.avif.Admission.Workers
	}
	if given("qsize") {
		a.Admission.QueueSize = f.avif.Admission.QueueSize
	}
	if given("qtimeout") {
		a.Admission.Timeout = f.avif.Admission.Timeout
	}
	if given("timeout") {
		a.Timeout = f.avif.Timeout
	}
	if given("auto") {
		a.AutoFormat = f.avif.AutoFormat
	}
}

// avifFile is the avif: block of the configuration file.
type avifFile struct {
	Workers          *int           `yaml:"workers"`
	QueueSize        *int           `yaml:"queue_size"`
	QueueTimeout     *time.Duration `yaml:"queue_timeout"`
	TransformTimeout *time.Duration `yaml:"transform_timeout"`
	AutoFormat       *bool          `yaml:"auto_format"`
}

func (af avifFile) apply(a *imageserver.AVIFConfig) {
	set(&a.Admission.Workers, af.Workers)
	set(&a.Admission.QueueSize, af.QueueSize)
	set(&a.Admission.Timeout, af.QueueTimeout)
	set(&a.Timeout, af.TransformTimeout)
	set(&a.AutoFormat, af.AutoFormat)
}
