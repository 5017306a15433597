// The tasks view (being built).

export function mount(container) {
  container.textContent = 'tasks';
}
