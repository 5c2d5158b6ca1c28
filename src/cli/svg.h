// svg.h — the SVG that `attend` (the cross-attention heatmap) and `plot` (training curves) draw:
// a document with a white background and sans-serif 12-pixel text, and the few elements both
// use. Text is XML-escaped here, so no caller can forget it; coordinates are written with one
// decimal. `attrs` are further attributes written as given: the caller's constants and numbers,
// never user text.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spotlight {

class Svg {
 public:
  // xmlns: a standalone .svg file needs the namespace; an SVG inside HTML does not.
  Svg(double width, double height, bool xmlns = true);

  void text(double x, double y, std::string_view s, std::string_view attrs = "");
  void vertical_text(double x, double y, std::string_view s);  // reads bottom to top
  // title: shown on hover (empty: none).
  void rect(double x, double y, double w, double h, std::string_view attrs,
            std::string_view title = "");
  void line(double x1, double y1, double x2, double y2, std::string_view attrs);
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view attrs);
  void circle(double cx, double cy, double r, std::string_view attrs);

  // The document, closed.
  std::string finish();

 private:
  void element(std::string_view open, std::string_view attrs, std::string_view body);
  std::string out_;
};

}  // namespace spotlight
