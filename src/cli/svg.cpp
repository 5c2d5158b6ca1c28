#include "cli/svg.h"

#include <spdlog/fmt/fmt.h>

#include "cli/common.h"  // xml_escape

namespace spotlight {

Svg::Svg(double width, double height, bool xmlns) {
  out_ = fmt::format(
      "<svg {}width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n",
      xmlns ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", width, height, width, height);
}

void Svg::element(std::string_view open, std::string_view attrs, std::string_view body) {
  out_ += open;
  if (!attrs.empty()) {
    out_ += ' ';
    out_ += attrs;
  }
  if (body.empty()) {
    out_ += "/>\n";
    return;
  }
  out_ += '>';
  out_ += body;
  const std::string_view name = open.substr(1, open.find(' ') - 1);  // "<text x=..." → "text"
  out_ += fmt::format("</{}>\n", name);
}

void Svg::text(double x, double y, std::string_view s, std::string_view attrs) {
  element(fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\"", x, y), attrs, xml_escape(s));
}

void Svg::vertical_text(double x, double y, std::string_view s) {
  element(fmt::format("<text transform=\"translate({:.1f} {:.1f}) rotate(-90)\"", x, y), "",
          xml_escape(s));
}

void Svg::rect(double x, double y, double w, double h, std::string_view attrs,
               std::string_view title) {
  element(fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"", x, y,
                      w, h),
          attrs, title.empty() ? "" : "<title>" + xml_escape(title) + "</title>");
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view attrs) {
  element(fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"", x1, y1, x2,
                      y2),
          attrs, "");
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, std::string_view attrs) {
  std::string pts;
  for (const auto& [x, y] : points) pts += fmt::format("{}{:.1f},{:.1f}", pts.empty() ? "" : " ", x, y);
  element("<polyline points=\"" + pts + "\"", attrs, "");
}

void Svg::circle(double cx, double cy, double r, std::string_view attrs) {
  element(fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\"", cx, cy, r), attrs, "");
}

std::string Svg::finish() { return std::move(out_) + "</svg>\n"; }

}  // namespace spotlight
