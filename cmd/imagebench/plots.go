package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	okColor   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	failColor = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	memColor  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
)

// writePlots writes latency over time, the histogram and (when the server
// was sampled) its CPU and memory over the run into dir.
func writePlots(dir string, c *config, o *outcome) ([]string, error) {
	var files []string
	save := func(name string, rows ...*plot.Plot) error {
		path := filepath.Join(dir, name+"."+c.PlotFormat)
		if err := saveColumn(path, rows); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		files = append(files, path)
		return nil
	}
	lat, err := latencyPlot(c, o)
	if err != nil {
		return nil, err
	}
	if err := save("latency", lat); err != nil {
		return nil, err
	}
	hist, err := histogramPlot(c, o)
	if err != nil {
		return nil, err
	}
	if err := save("histogram", hist); err != nil {
		return nil, err
	}
	if o.Sampled && len(o.Samples) > 1 {
		cpu, mem, err := serverPlots(c, o)
		if err != nil {
			return nil, err
		}
		if err := save("server", cpu, mem); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func latencyPlot(c *config, o *outcome) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency of each request (%d req/s)", c.Name, c.Rate)
	p.X.Label.Text = "time since start (s)"
	p.Y.Label.Text = "latency (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = latencyTicks{}
	var ok, fail plotter.XYs
	for _, r := range o.Results {
		xy := plotter.XY{X: r.Timestamp.Sub(o.Start).Seconds(), Y: max(float64(r.Latency)/1e6, 0.01)}
		if r.Code >= 200 && r.Code < 400 {
			ok = append(ok, xy)
		} else {
			fail = append(fail, xy)
		}
	}
	for _, set := range []struct {
		xys   plotter.XYs
		name  string
		color color.Color
	}{{ok, "success", okColor}, {fail, "failure", failColor}} {
		if len(set.xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(set.xys)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color = set.color
		s.GlyphStyle.Radius = vg.Points(1.2)
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s (%d)", set.name, len(set.xys)), s)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p, nil
}

func histogramPlot(c *config, o *outcome) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency histogram (%d requests)", c.Name, o.Hist.Total)
	p.Y.Label.Text = "% of requests"
	// Successes and failures stacked per bucket: under overload the 503s
	// and the served requests may share a bucket.
	ok := make(plotter.Values, len(Buckets))
	fail := make(plotter.Values, len(Buckets))
	for _, r := range o.Results {
		i := bucketOf(r.Latency)
		if r.Code >= 200 && r.Code < 400 {
			ok[i]++
		} else {
			fail[i]++
		}
	}
	names := make([]string, len(Buckets))
	for i := range Buckets {
		if n := float64(len(o.Results)); n > 0 {
			ok[i], fail[i] = 100*ok[i]/n, 100*fail[i]/n
		}
		lo, hi := Buckets.Nth(i)
		names[i] = lo + "-" + hi
	}
	okBars, err := plotter.NewBarChart(ok, vg.Points(44))
	if err != nil {
		return nil, err
	}
	okBars.Color, okBars.LineStyle.Width = okColor, 0
	failBars, err := plotter.NewBarChart(fail, vg.Points(44))
	if err != nil {
		return nil, err
	}
	failBars.Color, failBars.LineStyle.Width = failColor, 0
	failBars.StackOn(okBars)
	p.Add(okBars, failBars, plotter.NewGrid())
	p.Legend.Add("success", okBars)
	p.Legend.Add("failure", failBars)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Y.Min, p.Y.Max = 0, 100
	return p, nil
}

// bucketOf is the index of the histogram bucket holding d, as vegeta
// counts it.
func bucketOf(d time.Duration) int {
	for i := len(Buckets) - 1; i > 0; i-- {
		if d >= Buckets[i] {
			return i
		}
	}
	return 0
}

func serverPlots(c *config, o *outcome) (*plot.Plot, *plot.Plot, error) {
	var cpu, rss plotter.XYs
	for i, s := range o.Samples {
		x := s.At.Seconds()
		if i > 0 {
			cpu = append(cpu, plotter.XY{X: x, Y: s.Cores})
		}
		rss = append(rss, plotter.XY{X: x, Y: float64(s.RSS) / (1 << 20)})
	}
	pc := plot.New()
	pc.Title.Text = fmt.Sprintf("%s: server CPU (%.1f s during the attack)", c.Name, o.CPU)
	pc.X.Label.Text = "time since start (s)"
	pc.Y.Label.Text = "CPU (cores)"
	pc.Y.Min = 0
	lc, err := plotter.NewLine(cpu)
	if err != nil {
		return nil, nil, err
	}
	lc.Color = okColor
	pc.Add(lc, plotter.NewGrid())

	pm := plot.New()
	pm.Title.Text = fmt.Sprintf("%s: server memory (peak RSS %.0f MB)", c.Name, float64(o.PeakRSS)/(1<<20))
	pm.X.Label.Text = "time since start (s)"
	pm.Y.Label.Text = "RSS (MB)"
	pm.Y.Min = 0
	lm, err := plotter.NewLine(rss)
	if err != nil {
		return nil, nil, err
	}
	lm.Color = memColor
	pm.Add(lm, plotter.NewGrid())
	return pc, pm, nil
}

// saveColumn draws the plots stacked in one file; the format comes from
// the extension (png or svg).
func saveColumn(path string, rows []*plot.Plot) error {
	const width, rowHeight = 24 * vg.Centimeter, 10 * vg.Centimeter
	ext := filepath.Ext(path)[1:]
	cw, err := draw.NewFormattedCanvas(width, rowHeight*vg.Length(len(rows)), ext)
	if err != nil {
		return err
	}
	grid := make([][]*plot.Plot, len(rows))
	for i, p := range rows {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, draw.Tiles{Rows: len(rows), Cols: 1, PadY: vg.Centimeter, PadTop: vg.Millimeter * 3,
		PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}, draw.New(cw))
	for i, p := range rows {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := cw.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// latencyTicks marks a log latency axis at 1-2-5 steps, labelled in ms or s.
type latencyTicks struct{}

func (latencyTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for decade := 0.01; decade <= 1e6; decade *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := m * decade
			if v < lo || v > hi {
				continue
			}
			label := strconv.FormatFloat(v, 'g', -1, 64) + "ms"
			if v >= 1000 {
				label = strconv.FormatFloat(v/1000, 'g', -1, 64) + "s"
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}
