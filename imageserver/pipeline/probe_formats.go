package pipeline

import (
	"bytes"
	"encoding/binary"
)

// These header readers find an image's declared size in a TIFF or a HEIF
// (ISOBMFF) container without decoding anything. They read untrusted
// bytes: every offset is checked against the buffer, and loops advance.

func isTIFF(b []byte) bool {
	return len(b) >= 8 && (bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")) ||
		bytes.HasPrefix(b, []byte("II+\x00")) || bytes.HasPrefix(b, []byte("MM\x00+")))
}

// tiffHeader reads the size of the first image (IFD), the one libvips
// loads, from a classic or a BigTIFF file.
func tiffHeader(b []byte) (Header, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	big := bo.Uint16(b[2:]) == 43
	var off uint64
	entry, countSize := 12, 2
	if big {
		if len(b) < 16 {
			return Header{}, errHeader
		}
		off, entry, countSize = bo.Uint64(b[8:]), 20, 8
	} else {
		off = uint64(bo.Uint32(b[4:]))
	}
	if off < 8 || off > uint64(len(b)-countSize) {
		return Header{}, errHeader
	}
	n := uint64(bo.Uint16(b[off:]))
	if big {
		n = bo.Uint64(b[off:])
	}
	var w, h uint64
	for i, p := uint64(0), off+uint64(countSize); i < n && p+uint64(entry) <= uint64(len(b)); i, p = i+1, p+uint64(entry) {
		e := b[p : p+uint64(entry)]
		tag, typ := bo.Uint16(e), bo.Uint16(e[2:])
		if tag != 256 && tag != 257 {
			continue
		}
		v, ok := tiffValue(e, typ, bo, big)
		if !ok {
			return Header{}, errHeader
		}
		if tag == 256 {
			w = v
		} else {
			h = v
		}
	}
	if w == 0 || h == 0 || w > 1<<31 || h > 1<<31 {
		return Header{}, errHeader
	}
	return Header{Format: "tiff", Width: int(w), Height: int(h)}, nil
}

// tiffValue reads an inline SHORT, LONG or LONG8 value of an IFD entry.
func tiffValue(e []byte, typ uint16, bo binary.ByteOrder, big bool) (uint64, bool) {
	val := e[8:]
	if big {
		val = e[12:]
	}
	switch typ {
	case 3:
		return uint64(bo.Uint16(val)), true
	case 4:
		return uint64(bo.Uint32(val)), true
	case 16:
		if big {
			return bo.Uint64(val), true
		}
	}
	return 0, false
}

// heifBrands are the major brands govips (and so this server) loads as HEIF.
var heifBrands = map[string]string{"heic": "heif", "mif1": "heif", "msf1": "heif", "avif": "avif"}

func isISOBMFF(b []byte) bool { return len(b) >= 12 && string(b[4:8]) == "ftyp" }

// heifHeader reads the image sizes a HEIF or AVIF file declares (its ispe
// properties, one per image: primary, grid tiles, thumbnails) and returns
// the largest, which bounds whatever the loader decodes.
func heifHeader(b []byte) (Header, error) {
	format, ok := heifBrands[string(b[8:12])]
	if !ok {
		return Header{}, &SourceError{Msg: "source is an ISO media file with brand " + printable(b[8:12]) + "; allowed: " + sourceFormats}
	}
	var best Header
	found := false
	err := boxes(b, func(typ string, body []byte) error {
		if typ != "meta" || len(body) < 4 {
			return nil
		}
		return boxes(body[4:], func(typ string, body []byte) error {
			if typ != "iprp" {
				return nil
			}
			return boxes(body, func(typ string, body []byte) error {
				if typ != "ipco" {
					return nil
				}
				return boxes(body, func(typ string, body []byte) error {
					if typ != "ispe" || len(body) < 12 {
						return nil
					}
					w, h := binary.BigEndian.Uint32(body[4:]), binary.BigEndian.Uint32(body[8:])
					if w == 0 || h == 0 || w > 1<<31 || h > 1<<31 {
						return errHeader
					}
					if n := int64(w) * int64(h); n > best.Pixels {
						best = Header{Format: format, Width: int(w), Height: int(h), Pixels: n}
					}
					found = true
					return nil
				})
			})
		})
	})
	if err != nil || !found {
		return Header{}, errHeader
	}
	return best, nil
}

// boxes calls f for each ISOBMFF box in b, in order.
func boxes(b []byte, f func(typ string, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errHeader
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		typ := string(b[4:8])
		switch size {
		case 0: // to the end
			size = uint64(len(b))
		case 1: // 64-bit size follows
			if len(b) < 16 {
				return errHeader
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return errHeader
		}
		if err := f(typ, b[hdr:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
