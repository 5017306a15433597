// The query view (being built).

export function mount(container) {
  container.textContent = 'query';
}
