// The datasources view (being built).

export function mount(container) {
  container.textContent = 'datasources';
}
