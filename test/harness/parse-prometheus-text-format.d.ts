declare module "parse-prometheus-text-format" {
  /** The families of a Prometheus text exposition. */
  export default function parse(text: string): { name: string; help: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }[];
}
