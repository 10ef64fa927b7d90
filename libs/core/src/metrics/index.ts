/** The Prometheus metrics of the catalog, and the exposition format they are written in. */
export { EXPOSITION_CONTENT_TYPE, formatExposition, type MetricFamily, type MetricSample, type MetricType } from './exposition';
export { MetricsService } from './metrics.service';
