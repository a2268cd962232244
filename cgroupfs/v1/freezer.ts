export const STATE = 'freezer.state';
export const FROZEN = 'FROZEN';
export const THAWED = 'THAWED';
export const FREEZING = 'FREEZING';
