package params

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Coord is one part of rect=x,y,w,h: pixels, a fraction of the source
// side, or a named position (left/top, center/middle, right/bottom for x
// and y; full for w and h).
type Coord struct {
	Kind CoordKind
	Px   int
	Frac float64
}

// CoordKind says how a Coord is given.
type CoordKind uint8

// Coordinate kinds; the zero value is pixels.
const (
	CoordPx CoordKind = iota
	CoordFrac
	CoordStart  // left, top
	CoordMiddle // center, middle
	CoordEnd    // right, bottom
	CoordFull   // full (w and h)
)

// Rect is the source region of rect=x,y,w,h; the zero value (Set false)
// is the whole source.
type Rect struct {
	Set        bool
	X, Y, W, H Coord
}

const rectAllowed = "x,y,w,h with x an integer, a fraction 0-1, left, center or right; y the same with top, middle, bottom; w and h integers from 1, fractions 0-1 or full"

func (r *Rect) parse(v string) error {
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return bad("rect", "%q has %d parts; allowed: %s", clip(v), len(parts), rectAllowed)
	}
	named := []map[string]CoordKind{
		{"left": CoordStart, "center": CoordMiddle, "right": CoordEnd},
		{"top": CoordStart, "middle": CoordMiddle, "bottom": CoordEnd},
		{"full": CoordFull},
		{"full": CoordFull},
	}
	var c [4]Coord
	for i, p := range parts {
		k, ok := named[i][p]
		if ok {
			c[i] = Coord{Kind: k}
			continue
		}
		var err error
		if c[i], err = parseCoord(p, i >= 2); err != nil {
			return bad("rect", "%q: part %d (%s) %v; allowed: %s", clip(v), i+1, clip(p), err, rectAllowed)
		}
	}
	*r = Rect{Set: true, X: c[0], Y: c[1], W: c[2], H: c[3]}
	return nil
}

// parseCoord reads an integer (pixels) or a number with a point (a
// fraction from 0 to 1; above 0 for a size).
func parseCoord(p string, size bool) (Coord, error) {
	if !strings.Contains(p, ".") {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil:
			return Coord{}, fmt.Errorf("is not a number or a name")
		case n < 0 || size && n < 1:
			return Coord{}, fmt.Errorf("is out of range")
		case n > 1<<20:
			return Coord{}, fmt.Errorf("is too large")
		}
		return Coord{Kind: CoordPx, Px: n}, nil
	}
	f, err := strconv.ParseFloat(p, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 || size && f == 0 {
		return Coord{}, fmt.Errorf("is not a fraction in range")
	}
	return Coord{Kind: CoordFrac, Frac: f}, nil
}

// Resolve returns the region of a srcW x srcH source that r names, cut to
// the source; a region that lies wholly outside it is an error.
func (r Rect) Resolve(srcW, srcH int) (x, y, w, h int, err error) {
	if !r.Set {
		return 0, 0, srcW, srcH, nil
	}
	w = r.W.size(srcW)
	h = r.H.size(srcH)
	x = r.X.pos(srcW, w)
	y = r.Y.pos(srcH, h)
	if x >= srcW || y >= srcH {
		return 0, 0, 0, 0, bad("rect", "the region starts at %d,%d, outside the %dx%d source; allowed: a region that overlaps the source", x, y, srcW, srcH)
	}
	return x, y, min(w, srcW-x), min(h, srcH-y), nil
}

func (c Coord) size(src int) int {
	switch c.Kind {
	case CoordFull:
		return src
	case CoordFrac:
		return max(1, int(math.Round(c.Frac*float64(src))))
	}
	return c.Px
}

func (c Coord) pos(src, size int) int {
	switch c.Kind {
	case CoordStart:
		return 0
	case CoordMiddle:
		return max(0, (src-size)/2)
	case CoordEnd:
		return max(0, src-size)
	case CoordFrac:
		return int(math.Round(c.Frac * float64(src)))
	}
	return c.Px
}

func (r Rect) String() string {
	if !r.Set {
		return "full"
	}
	return strings.Join([]string{r.X.String(), r.Y.String(), r.W.String(), r.H.String()}, ",")
}

func (c Coord) String() string {
	switch c.Kind {
	case CoordFrac:
		return strconv.FormatFloat(c.Frac, 'f', -1, 64) + "f"
	case CoordStart:
		return "start"
	case CoordMiddle:
		return "middle"
	case CoordEnd:
		return "end"
	case CoordFull:
		return "full"
	}
	return strconv.Itoa(c.Px)
}
